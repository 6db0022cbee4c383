package twilio

import (
	"slices"
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
