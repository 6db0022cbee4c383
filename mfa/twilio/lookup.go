package twilio

import (
	"context"
	"fmt"
	"time"

	lookups "github.com/twilio/twilio-go/rest/lookups/v2"
)

// LineType is Lookup v2's line_type_intelligence.type.
type LineType string

// Line types Twilio returns
// (https://www.twilio.com/docs/lookup/v2-api/line-type-intelligence).
const (
	Mobile       LineType = "mobile"
	Landline     LineType = "landline"
	FixedVoIP    LineType = "fixedVoip"
	NonFixedVoIP LineType = "nonFixedVoip" // app numbers: cheap, often fraud
	TollFree     LineType = "tollFree"
	Premium      LineType = "premium"
	SharedCost   LineType = "sharedCost"
	UAN          LineType = "uan"
	Voicemail    LineType = "voicemail"
	Pager        LineType = "pager"
	Personal     LineType = "personal"
	Unknown      LineType = "unknown"
)

// LineInfo is what Lookup learned about a number.
type LineInfo struct {
	PhoneNumber        string // E.164, as Twilio normalised it
	Valid              bool
	ValidationErrors   []string // TOO_SHORT, INVALID_COUNTRY_CODE ...
	CountryCode        string   // ISO 3166-1 alpha-2 ("GB")
	CallingCountryCode string   // "44"
	LineType           LineType // "" when Twilio had no answer
	Carrier            string
	// LineTypeError is line_type_intelligence.error_code (60600 when the
	// number is unprovisioned, for instance); 0 when none.
	LineTypeError int
	// SIMSwap is set when the lookup asked for sim_swap and Twilio answered.
	SIMSwap *SIMSwap
}

// SIMSwap is Lookup v2's sim_swap: when the number last moved to another SIM
// card. Carriers report either the date, or only whether a swap happened
// within a period.
type SIMSwap struct {
	LastSwap        time.Time // zero when the carrier gives only the period
	SwappedPeriod   string    // ISO 8601 duration, such as "PT24H"
	SwappedInPeriod bool      // a swap happened within SwappedPeriod
	Carrier         string
	ErrorCode       int // Twilio's code when the carrier gave no answer; 0 when none
}

// Lookup asks Lookup v2 for the number's line type intelligence, and its SIM
// swap status when simSwap is set (a separately priced package that Twilio
// enables per account). Retries as SendSMS does.
func (c *Client) Lookup(ctx context.Context, e164 string, simSwap bool) (LineInfo, error) {
	// twilio-go pastes the number into the URL path unescaped.
	if !e164Re.MatchString(e164) {
		return LineInfo{}, fmt.Errorf("twilio: lookup: %w", localInvalidNumber())
	}
	fields := "line_type_intelligence"
	if simSwap {
		fields += ",sim_swap"
	}
	p := (&lookups.FetchPhoneNumberParams{}).SetFields(fields)
	var r *lookups.LookupResponse
	err := c.do(ctx, "lookup", func(s services) (err error) {
		r, err = s.lookups.FetchPhoneNumber(e164, p)
		return err
	})
	if err != nil {
		return LineInfo{}, fmt.Errorf("twilio: lookup: %w", err)
	}
	info := LineInfo{
		PhoneNumber:        deref(r.PhoneNumber),
		Valid:              r.Valid,
		CountryCode:        deref(r.CountryCode),
		CallingCountryCode: deref(r.CallingCountryCode),
		LineType:           LineType(r.LineTypeIntelligence.Type),
		Carrier:            r.LineTypeIntelligence.CarrierName,
		LineTypeError:      r.LineTypeIntelligence.ErrorCode,
	}
	for _, v := range r.ValidationErrors {
		info.ValidationErrors = append(info.ValidationErrors, string(v))
	}
	if sw := r.SimSwap; simSwap && sw != (lookups.SimSwapInfo{}) {
		info.SIMSwap = &SIMSwap{
			LastSwap:        sw.LastSimSwap.LastSimSwapDate,
			SwappedPeriod:   sw.LastSimSwap.SwappedPeriod,
			SwappedInPeriod: sw.LastSimSwap.SwappedInPeriod,
			Carrier:         sw.CarrierName,
			ErrorCode:       sw.ErrorCode,
		}
	}
	return info, nil
}
