package twilio

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

func TestLookupLineType(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber("+14155550101", twiliotest.Number{LineType: "nonFixedVoip", Carrier: "Twilio - SMS/MMS-SVR"})
	fake.SetNumber("+442071838750", twiliotest.Number{LineType: "landline", Carrier: "BT"})
	c, _ := newClient(t, fake, nil)
	for _, tc := range []struct {
		number  string
		want    LineType
		carrier string
		country string
	}{
		{"+14155550101", NonFixedVoIP, "Twilio - SMS/MMS-SVR", "US"},
		{"+442071838750", Landline, "BT", "GB"},
		{"+819012345678", Mobile, "Fake Mobile", "JP"},
	} {
		info, err := c.Lookup(t.Context(), tc.number, false)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", tc.number, err)
		}
		if info.PhoneNumber != tc.number || !info.Valid || info.LineType != tc.want || info.Carrier != tc.carrier ||
			info.CountryCode != tc.country || info.SIMSwap != nil || info.LineTypeError != 0 {
			t.Errorf("Lookup(%s) = %+v", tc.number, info)
		}
	}
	for _, l := range fake.Lookups() {
		if !slices.Equal(l.Fields, []string{"line_type_intelligence"}) || l.Host != "lookups.twilio.com" {
			t.Errorf("lookup request %+v, want only line_type_intelligence at lookups.twilio.com", l)
		}
	}
}

func TestLookupInvalid(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber("+15555550100", twiliotest.Number{Invalid: true})
	c, _ := newClient(t, fake, nil)
	info, err := c.Lookup(t.Context(), "+15555550100", false)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if info.Valid || !slices.Equal(info.ValidationErrors, []string{"INVALID_BUT_POSSIBLE"}) {
		t.Errorf("Lookup = %+v, want invalid with INVALID_BUT_POSSIBLE", info)
	}
}

func TestLookupSIMSwap(t *testing.T) {
	fake := twiliotest.New(t)
	swapped := time.Now().Add(-3 * time.Hour).Truncate(time.Second).UTC()
	fake.SetNumber("+447700900001", twiliotest.Number{SIMSwapDate: swapped, Carrier: "Vodafone UK"})
	fake.SetNumber("+447700900002", twiliotest.Number{SwappedPeriod: "PT48H", SwappedInPeriod: false})
	c, _ := newClient(t, fake, nil)

	info, err := c.Lookup(t.Context(), "+447700900001", true)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	sw := info.SIMSwap
	if sw == nil || !sw.LastSwap.Equal(swapped) || !sw.SwappedInPeriod || sw.SwappedPeriod != "PT24H" || sw.Carrier != "Vodafone UK" {
		t.Errorf("SIMSwap = %+v, want swapped at %v within PT24H", sw, swapped)
	}
	if l := fake.Lookups()[0]; !slices.Equal(l.Fields, []string{"line_type_intelligence", "sim_swap"}) {
		t.Errorf("Fields = %v", l.Fields)
	}

	// A carrier that reports only the period bucket, no date.
	info, err = c.Lookup(t.Context(), "+447700900002", true)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if sw := info.SIMSwap; sw == nil || !sw.LastSwap.IsZero() || sw.SwappedInPeriod || sw.SwappedPeriod != "PT48H" {
		t.Errorf("SIMSwap = %+v, want no date, not swapped in PT48H", sw)
	}
}

func TestLookupRetries(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{ServerErrors: 1, RateLimited: 1})
	c, sl := newClient(t, fake, nil)
	if _, err := c.Lookup(t.Context(), testTo, false); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if len(sl.all()) != 2 || len(fake.Lookups()) != 1 {
		t.Errorf("%d sleeps, %d lookups answered; want 2 and 1", len(sl.all()), len(fake.Lookups()))
	}
}

// Real Twilio fills the packages it was not asked for with null (the fake
// leaves them out, as the published schema requires): the client must read
// Twilio's own examples, taken from its OpenAPI description.
func TestLookupReadsTwilioExamples(t *testing.T) {
	const lineType = `{"calling_country_code":"1","country_code":"US","phone_number":"+14159929960",
		"national_format":"(415) 992-9960","valid":true,"validation_errors":null,"caller_name":null,
		"sim_swap":null,"call_forwarding":null,"line_status":null,
		"line_type_intelligence":{"error_code":null,"mobile_country_code":"240","mobile_network_code":"38",
		"carrier_name":"Twilio - SMS/MMS-SVR","type":"nonFixedVoip"},"identity_match":null,
		"reassigned_number":null,"sms_pumping_risk":null,"phone_number_quality_score":null,"pre_fill":null,
		"url":"https://lookups.twilio.com/v2/PhoneNumbers/+14159929960"}`
	const simSwapNoDate = `{"calling_country_code":"44","country_code":"GB","phone_number":"+447772000001",
		"national_format":"07772 000001","valid":true,"validation_errors":null,"caller_name":null,
		"sim_swap":{"last_sim_swap":{"last_sim_swap_date":null,"swapped_period":"PT24H","swapped_in_period":true},
		"carrier_name":"Vodafone UK","mobile_country_code":"276","mobile_network_code":"02","error_code":null},
		"call_forwarding":null,"line_status":null,"line_type_intelligence":null,"identity_match":null,
		"reassigned_number":null,"sms_pumping_risk":null,"phone_number_quality_score":null,"pre_fill":null,
		"url":"https://lookups.twilio.com/v2/PhoneNumbers/+447772000001"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "+447772000001") {
			io.WriteString(w, simSwapNoDate)
			return
		}
		io.WriteString(w, lineType)
	}))
	defer srv.Close()
	c, err := New(Config{AccountSID: goodSID, AuthToken: goodToken, VoiceFrom: testFrom,
		Transport: &twiliotest.Rewriter{Routes: map[string]string{"lookups.twilio.com": srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Lookup(t.Context(), "+14159929960", false)
	if err != nil || info.LineType != NonFixedVoIP || info.Carrier != "Twilio - SMS/MMS-SVR" || info.CountryCode != "US" || !info.Valid {
		t.Errorf("Lookup = %+v, %v", info, err)
	}
	info, err = c.Lookup(t.Context(), "+447772000001", true)
	if err != nil || info.SIMSwap == nil || !info.SIMSwap.LastSwap.IsZero() || !info.SIMSwap.SwappedInPeriod ||
		info.SIMSwap.SwappedPeriod != "PT24H" || info.SIMSwap.Carrier != "Vodafone UK" || info.LineType != "" {
		t.Errorf("Lookup(sim swap) = %+v (%+v), %v", info, info.SIMSwap, err)
	}
}
