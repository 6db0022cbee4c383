package twiliotest

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lookup is one Lookup v2 request the fake answered.
type Lookup struct {
	Number string
	Fields []string // the Fields query parameter, split at commas
	Host   string
}

// Lookups returns the lookups answered so far.
func (s *Server) Lookups() []Lookup {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Lookup, len(s.lookups))
	for i, l := range s.lookups {
		l.Fields = slices.Clone(l.Fields)
		out[i] = l
	}
	return out
}

// callingCodes maps the calling codes tests use to ISO countries.
var callingCodes = []struct{ prefix, country string }{
	{"1", "US"}, {"44", "GB"}, {"81", "JP"}, {"33", "FR"}, {"49", "DE"}, {"61", "AU"}, {"91", "IN"},
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) int {
	number := r.PathValue("number")
	var fields []string
	if f := r.URL.Query().Get("Fields"); f != "" {
		fields = strings.Split(f, ",")
	}
	if status, done := s.injected(w, number); done {
		return status
	}
	s.mu.Lock()
	s.lookups = append(s.lookups, Lookup{Number: number, Fields: fields, Host: r.Host})
	s.mu.Unlock()

	// Packages not asked for are left out. Real Twilio sends them as null
	// (its own examples do), but the published schema does not allow null
	// for them and Prism holds the fake to the schema; mfa/twilio's tests
	// feed the client Twilio's null-filled examples separately.
	answer := map[string]any{
		"calling_country_code": nil, "country_code": nil, "phone_number": number,
		"national_format": nil, "valid": false, "validation_errors": []string{"NOT_A_NUMBER"},
		"url": "https://lookups.twilio.com/v2/PhoneNumbers/" + number,
	}
	if !e164Re.MatchString(number) {
		return s.writeJSON(w, http.StatusOK, answer)
	}
	n := s.number(number)
	calling, country := "", n.CountryCode
	for _, c := range callingCodes {
		if strings.HasPrefix(number[1:], c.prefix) {
			calling = c.prefix
			if country == "" {
				country = c.country
			}
			break
		}
	}
	if calling == "" {
		calling = number[1:2]
	}
	answer["calling_country_code"] = calling
	answer["country_code"] = nullable(country)
	answer["national_format"] = nationalFormat(number, calling)
	answer["valid"] = !n.Invalid
	answer["validation_errors"] = []string{}
	if n.Invalid {
		answer["validation_errors"] = []string{"INVALID_BUT_POSSIBLE"}
	}
	carrier := n.Carrier
	if carrier == "" {
		carrier = "Fake Mobile"
	}
	if slices.Contains(fields, "line_type_intelligence") {
		lineType := n.LineType
		if lineType == "" {
			lineType = "mobile"
		}
		answer["line_type_intelligence"] = map[string]any{
			"mobile_country_code": "001", "mobile_network_code": "01",
			"carrier_name": carrier, "type": lineType,
		}
	}
	if slices.Contains(fields, "sim_swap") {
		period := n.SwappedPeriod
		if period == "" {
			period = "PT24H"
		}
		last := map[string]any{"swapped_period": period, "swapped_in_period": n.SwappedInPeriod}
		if !n.SIMSwapDate.IsZero() {
			last["last_sim_swap_date"] = n.SIMSwapDate.UTC().Format(time.RFC3339)
			if d, ok := isoHours(period); ok {
				last["swapped_in_period"] = time.Since(n.SIMSwapDate) <= d
			}
		}
		answer["sim_swap"] = map[string]any{
			"last_sim_swap": last, "carrier_name": carrier,
			"mobile_country_code": "001", "mobile_network_code": "01",
		}
	}
	return s.writeJSON(w, http.StatusOK, answer)
}

var isoHoursRe = regexp.MustCompile(`^PT([0-9]+)H$`)

// isoHours reads the "PT<n>H" periods Twilio uses for SIM swaps.
func isoHours(p string) (time.Duration, bool) {
	m := isoHoursRe.FindStringSubmatch(p)
	if m == nil {
		return 0, false
	}
	h, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, false
	}
	return time.Duration(h) * time.Hour, true
}

// nationalFormat is a plausible national rendering: (415) 555-0100 in
// North America, a trunk 0 before the subscriber number elsewhere.
func nationalFormat(number, calling string) string {
	sub := number[1+len(calling):]
	if calling == "1" && len(sub) == 10 {
		return "(" + sub[:3] + ") " + sub[3:6] + "-" + sub[6:]
	}
	return "0" + sub
}
