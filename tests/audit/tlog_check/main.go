// Checks idv's audit output with Go's golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's
// golang-golang-x-mod-dev): the checkpoints open as signed notes under idv's verifier key, every
// inclusion proof passes tlog.CheckRecord, the consistency proof passes tlog.CheckTree, and an
// altered proof, record or note fails. Reads audit_vectors' output on stdin.
package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type tree struct {
	size int64
	root tlog.Hash
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlog_check: "+format+"\n", args...)
	os.Exit(1)
}

func proof(s string) []tlog.Hash {
	if s == "-" {
		return nil
	}
	var out []tlog.Hash
	for _, b := range strings.Split(s, ",") {
		h, err := tlog.ParseHash(b)
		if err != nil {
			fail("bad hash %q", b)
		}
		out = append(out, h)
	}
	return out
}

func openCheckpoint(verifiers note.Verifiers, b64 string) tree {
	msg, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		fail("bad note encoding")
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		fail("note does not open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("bad checkpoint size")
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("bad checkpoint root")
	}
	// An altered note must not open.
	bad := append([]byte{}, msg...)
	bad[0] ^= 1
	if _, err := note.Open(bad, verifiers); err == nil {
		fail("an altered note opened")
	}
	return tree{size, root}
}

func main() {
	var verifiers note.Verifiers
	trees := map[int64]tree{}
	records := map[int64][]byte{}
	var stored []tlog.Hash // idv's stored hashes, by index
	var mine []tlog.Hash   // the same, computed here by tlog.StoredHashes
	reader := func(hashes *[]tlog.Hash) tlog.HashReaderFunc {
		return func(indexes []int64) ([]tlog.Hash, error) {
			var out []tlog.Hash
			for _, i := range indexes {
				if i >= int64(len(*hashes)) {
					return nil, fmt.Errorf("no stored hash %d", i)
				}
				out = append(out, (*hashes)[i])
			}
			return out, nil
		}
	}
	checked := 0
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "verifier":
			v, err := note.NewVerifier(f[1])
			if err != nil {
				fail("verifier key refused: %v", err)
			}
			verifiers = note.VerifierList(v)
		case "note":
			t := openCheckpoint(verifiers, f[1])
			trees[t.size] = t
			if t.size > 0 && len(stored) > 0 {
				if th, err := tlog.TreeHash(t.size, reader(&stored)); err != nil || th != t.root {
					fail("tlog.TreeHash(%d) over idv's stored hashes is not the signed root", t.size)
				}
			}
		case "stored":
			h, err := tlog.ParseHash(f[2])
			if err != nil {
				fail("bad stored hash")
			}
			stored = append(stored, h)
		case "record":
			i, _ := strconv.ParseInt(f[1], 10, 64)
			records[i], _ = base64.StdEncoding.DecodeString(f[2])
			// tlog's own stored hashes for this record must be the ones idv stored.
			add, err := tlog.StoredHashes(i, records[i], reader(&mine))
			if err != nil {
				fail("StoredHashes(%d): %v", i, err)
			}
			for _, h := range add {
				if int64(len(mine)) >= int64(len(stored)) || stored[len(mine)] != h {
					fail("stored hash %d differs from tlog's", len(mine))
				}
				mine = append(mine, h)
			}
		case "inclusion":
			i, _ := strconv.ParseInt(f[1], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			p := proof(f[3])
			t := trees[n]
			if err := tlog.CheckRecord(p, n, t.root, i, tlog.RecordHash(records[i])); err != nil {
				fail("inclusion of record %d in %d: %v", i, n, err)
			}
			// tlog's proof from idv's stored hashes is idv's proof.
			if q, err := tlog.ProveRecord(n, i, reader(&stored)); err != nil || len(q) != len(p) {
				fail("tlog.ProveRecord(%d, %d) over idv's stored hashes: %v", n, i, err)
			} else {
				for k := range q {
					if q[k] != p[k] {
						fail("proof of record %d differs from tlog's", i)
					}
				}
			}
			if tlog.CheckRecord(p, n, t.root, i, tlog.RecordHash(append(records[i], 'x'))) == nil {
				fail("an altered record was proven")
			}
			checked++
		case "consistency":
			m, _ := strconv.ParseInt(f[1], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			p := proof(f[3])
			if err := tlog.CheckTree(p, n, trees[n].root, m, trees[m].root); err != nil {
				fail("consistency %d -> %d: %v", m, n, err)
			}
			if len(p) > 0 {
				p[0][0] ^= 1
				if tlog.CheckTree(p, n, trees[n].root, m, trees[m].root) == nil {
					fail("an altered consistency proof passed")
				}
			}
			checked++
		}
	}
	if checked == 0 || len(trees) == 0 {
		fail("nothing checked")
	}
	fmt.Printf("tlog_check: %d proofs and %d signed checkpoints accepted by golang.org/x/mod/sumdb\n",
		checked, len(trees))
}
