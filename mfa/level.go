package mfa

import (
	"slices"
	"time"
)

// kindSet is a set of factor kinds. The level rules only ask which kinds
// took part (and whether a passkey verified the user), so a bit set keeps
// them allocation-free: Decide asks "what if this factor were added?" once
// per candidate.
type kindSet uint16

// kindBit is f's bit; zero for a factor Latchkey does not know, which
// therefore never counts for anything.
func kindBit(f Factor) kindSet {
	switch f {
	case Password:
		return 1 << 0
	case Passkey:
		return 1 << 1
	case Push:
		return 1 << 2
	case TOTP:
		return 1 << 3
	case SMS:
		return 1 << 4
	case Voice:
		return 1 << 5
	case RecoveryCode:
		return 1 << 6
	case RememberedBrowser:
		return 1 << 7
	}
	return 0
}

// kindOrder ranks factors for deterministic tie-breaking (Factors'
// order, which a caller cannot reorder through a shared slice here).
func kindOrder(f Factor) int {
	switch f {
	case Passkey:
		return 0
	case Push:
		return 1
	case TOTP:
		return 2
	case SMS:
		return 3
	case Voice:
		return 4
	case RecoveryCode:
		return 5
	case Password:
		return 6
	case RememberedBrowser:
		return 7
	}
	return 8
}

const firstKinds = kindSet(1<<0 | 1<<1) // Password, Passkey

// summary is what the level rules look at in a set of proofs.
type summary struct {
	kinds kindSet
	// uvPasskey: a passkey assertion with user verification took part.
	uvPasskey bool
}

func summarize(proofs []Proof) summary {
	var s summary
	for _, p := range proofs {
		s = s.with(p)
	}
	return s
}

func (s summary) with(p Proof) summary {
	s.kinds |= kindBit(p.Factor)
	if p.Factor == Passkey && p.UserVerified {
		s.uvPasskey = true
	}
	return s
}

// mfaKinds are the factors that count as the second of two factors under
// p (see Achieved).
func mfaKinds(p Policy) kindSet {
	k := kindBit(Passkey) | kindBit(Push) | kindBit(TOTP)
	if p.RecoverySatisfiesMFA {
		k |= kindBit(RecoveryCode)
	}
	if p.PhoneSatisfiesMFA {
		k |= kindBit(SMS) | kindBit(Voice)
	}
	if p.Remember.Enabled {
		k |= kindBit(RememberedBrowser)
	}
	return k
}

// level applies the rules documented on Achieved.
func (s summary) level(p Policy) Level {
	if s.kinds&firstKinds == 0 {
		return LevelNone
	}
	if s.uvPasskey {
		// The passkey is possession and, through its PIN or biometric,
		// knowledge or inherence: multi-factor and phishing-resistant on
		// its own.
		return LevelPHR
	}
	counting := s.kinds & mfaKinds(p)
	mfa, phr := false, false
	if s.kinds&kindBit(Password) != 0 {
		if others := counting &^ kindBit(Password); others != 0 {
			mfa = true
			phr = phr || others&kindBit(Passkey) != 0
		}
	}
	if s.kinds&kindBit(Passkey) != 0 {
		if others := counting &^ kindBit(Passkey); others != 0 {
			mfa = true
			// A remembered browser stands in for a factor proven earlier,
			// through a cookie: it never lifts a sign-in to phr.
			phr = phr || others&^kindBit(RememberedBrowser) != 0
		}
	}
	switch {
	case phr:
		return LevelPHR
	case mfa:
		return LevelMFA
	}
	return LevelPwd
}

// Achieved is the level a set of proofs reaches under p. The proofs are
// taken as they are: filtering out stale ones is the caller's business
// (Decide does it with Facts.FreshSince).
//
//   - LevelPwd: a first factor (a password or a passkey) took part.
//   - LevelMFA: additionally a second factor of a different kind that
//     counts for mfa: a passkey, push or TOTP always; a recovery code if
//     p.RecoverySatisfiesMFA; SMS or voice if p.PhoneSatisfiesMFA; a
//     remembered browser if p.Remember.Enabled. Or a passkey that verified
//     the user on its own.
//   - LevelPHR: LevelMFA with a passkey among the factors that make it
//     (password + passkey, passkey + TOTP, a user-verified passkey). A
//     remembered browser never counts toward it, and SMS, voice or a
//     remembered browser without a passkey never reach it.
//
// Factors Latchkey does not know count for nothing.
func Achieved(p Policy, proofs []Proof) Level {
	return summarize(proofs).level(p)
}

// Resolve maps an acr value to its level: a level's canonical URN, or one
// of p.Aliases that names a valid level. Matching is exact (acr values are
// case-sensitive strings).
func (p Policy) Resolve(acr string) (Level, bool) {
	if slices.Contains(Levels, Level(acr)) {
		return Level(acr), true
	}
	if l, ok := p.Aliases[acr]; ok && l.Rank() > 0 {
		return l, true
	}
	return LevelNone, false
}

// maxLevel is the stronger of a and b.
func maxLevel(a, b Level) Level {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// fresh reports whether a proof made at "at" counts for a request that
// wants proofs made at or after since. auth_time is published in whole
// seconds, so both sides are truncated to the second: otherwise a proof
// the RP sees as made at max_age's boundary could be stale to the engine
// (or the reverse).
func fresh(at, since time.Time) bool {
	if since.IsZero() {
		return true
	}
	return !at.Truncate(time.Second).Before(since.Truncate(time.Second))
}

// minimalProofs picks the fewest proofs among proofs that still reach
// want: at most two suffice (see Achieved). Among equally small sets it
// prefers the newest proof of each kind and, between sets, the one whose
// oldest proof is newest (the latest auth_time); remaining ties go to the
// factor order. The result is sorted oldest first.
func minimalProofs(p Policy, proofs []Proof, want Level) []Proof {
	// The newest proof of each kind, and the newest user-verified passkey
	// when the newest passkey did not verify the user. Equal times go to
	// the later proof (the session lists them oldest first).
	var cand []Proof
	var uv *Proof
	for _, pr := range proofs {
		if kindBit(pr.Factor) == 0 {
			continue
		}
		if pr.Factor == Passkey && pr.UserVerified && (uv == nil || !pr.At.Before(uv.At)) {
			uv = &pr
		}
		i := slices.IndexFunc(cand, func(c Proof) bool { return c.Factor == pr.Factor })
		switch {
		case i < 0:
			cand = append(cand, pr)
		case !pr.At.Before(cand[i].At):
			cand[i] = pr
		}
	}
	if uv != nil {
		if i := slices.IndexFunc(cand, func(c Proof) bool { return c.Factor == Passkey }); !cand[i].UserVerified {
			cand = append(cand, *uv)
		}
	}
	slices.SortStableFunc(cand, func(a, b Proof) int { return kindOrder(a.Factor) - kindOrder(b.Factor) })

	var best []Proof
	var bestOldest time.Time
	consider := func(set ...Proof) {
		if !summarize(set).level(p).AtLeast(want) {
			return
		}
		oldest := set[0].At
		for _, s := range set[1:] {
			if s.At.Before(oldest) {
				oldest = s.At
			}
		}
		if best == nil || oldest.After(bestOldest) {
			best, bestOldest = slices.Clone(set), oldest
		}
	}
	for _, c := range cand {
		consider(c)
	}
	if best == nil {
		for i := range cand {
			for j := i + 1; j < len(cand); j++ {
				consider(cand[i], cand[j])
			}
		}
	}
	if best == nil {
		// Unreachable when want <= Achieved(proofs): the candidates keep
		// every kind and the user-verified passkey, which is all the level
		// rules look at.
		best = cand
	}
	slices.SortStableFunc(best, func(a, b Proof) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return kindOrder(a.Factor) - kindOrder(b.Factor)
	})
	return best
}
