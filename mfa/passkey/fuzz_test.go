package passkey

import (
	"bytes"
	"testing"
)

// seedsFrom adds a valid input, its truncations and a few shapes of garbage.
func seedsFrom(valid []byte) [][]byte {
	seeds := [][]byte{valid, nil, []byte("null"), []byte("{}"), []byte("[]"), []byte(`{"id":"","rawId":"","type":"public-key","response":{}}`)}
	for _, n := range []int{1, len(valid) / 4, len(valid) / 2, len(valid) - 2, len(valid) - 1} {
		seeds = append(seeds, valid[:n])
	}
	// Invalid base64 and bit flips in the middle of the binary fields.
	seeds = append(seeds, bytes.Replace(valid, []byte(`"response":{"`), []byte(`"response":{"!`), 1))
	flipped := bytes.Clone(valid)
	flipped[len(flipped)*2/3] ^= 0x20
	return append(seeds, flipped)
}

func FuzzFinishRegistration(f *testing.F) {
	s, _ := newTestService(f, nil)
	u := newUser("ada")
	a := newSoftAuthenticator(testOrigin)
	options, session, err := s.BeginRegistration(*u)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := a.create(options)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.FinishRegistration(*u, session, valid); err != nil {
		f.Fatalf("seed does not verify: %v", err)
	}
	for _, seed := range seedsFrom(valid) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, response []byte) {
		c, err := s.FinishRegistration(*u, session, response)
		if err != nil {
			if classified(err) != 1 {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// "none" attestation signs nothing, so any well-formed response
		// to this challenge from this origin is a valid registration; it
		// must still yield a usable credential.
		if len(c.ID) == 0 || len(c.PublicKey) == 0 {
			t.Fatalf("accepted a credential without id or key: %+v", c)
		}
	})
}

func FuzzFinishLogin(f *testing.F) {
	s, _ := newTestService(f, nil)
	a := newSoftAuthenticator(testOrigin)
	u := newUser("ada")
	register(f, s, a, u)
	db := &userDB{users: []*User{u}}
	options, session, err := s.BeginDiscoverableLogin()
	if err != nil {
		f.Fatal(err)
	}
	valid, err := a.get(options)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.FinishLogin(session, valid, db.lookup); err != nil {
		f.Fatalf("seed does not verify: %v", err)
	}
	_, boundSession, err := s.BeginLogin(*u)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range seedsFrom(valid) {
		f.Add(session, seed)
	}
	for _, seed := range seedsFrom(session) {
		f.Add(seed, valid)
	}
	f.Add(boundSession, valid)
	f.Fuzz(func(t *testing.T, session, response []byte) {
		db.calls = nil
		res, err := s.FinishLogin(session, response, db.lookup)
		if err != nil {
			if classified(err) != 1 {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Only the registered key can produce a valid assertion.
		if !bytes.Equal(res.Credential.ID, a.credID) || !bytes.Equal(res.UserHandle, u.ID) {
			t.Fatalf("accepted %+v", res)
		}
	})
}
