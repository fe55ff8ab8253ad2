// Checks, in the browser, that a record is in a node's audit log: the record's leaf is hashed
// from its stored bytes, the checkpoint is a C2SP signed note whose Ed25519 signature is checked
// with the log's verifier key (WebCrypto), pinned in this browser at first sight, and the
// inclusion proof (RFC 9162, section 2.1.3.2) must lead from the leaf to the checkpoint's root.
// Nothing here takes the server's word that the proof is good.

const enc = new TextEncoder();

function b64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

async function sha256(...parts) {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

function equal(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// The note's text when one of its signatures by `verifierKey` ("name+hexid+base64key") verifies.
export async function openNote(note, verifierKey) {
  // name+hexid+base64key, where the base64 key may itself hold '+'.
  const first = verifierKey.indexOf('+');
  const second = verifierKey.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new Error('not a verifier key');
  const name = verifierKey.slice(0, first);
  const keyB64 = verifierKey.slice(second + 1);
  const typed = b64(keyB64);
  if (typed.length !== 33 || typed[0] !== 1) throw new Error('not an Ed25519 verifier key');
  const pub = typed.slice(1);
  const id = (await sha256(enc.encode(name + '\n'), typed)).slice(0, 4);
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint has no signature');
  const text = note.slice(0, split + 1);
  const key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  for (const line of note.slice(split + 2).split('\n')) {
    if (!line.startsWith('\u2014 ')) continue;
    const [signer, sigB64] = line.slice(2).split(' ');
    if (signer !== name) continue;
    const blob = b64(sigB64);
    if (blob.length !== 68 || !equal(blob.slice(0, 4), id)) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, key, blob.slice(4), enc.encode(text))) {
      return text;
    }
    throw new Error("the checkpoint's signature does not verify");
  }
  throw new Error('no signature by the log key');
}

// Root from a leaf hash, its index, the tree size and the audit path (RFC 9162 2.1.3.2).
export async function rootFromInclusion(index, size, leaf, path) {
  if (index >= size) throw new Error('index beyond the tree');
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) throw new Error('proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('proof too short');
  return r;
}

// The verifier key this browser saw first for a node's log, kept in localStorage (a public key,
// no identity data). A node that later shows another key is reported, never silently trusted:
// {first: true} when just pinned, {since} when it matches, {changed: true, pinned, since} else.
export function pinnedKey(node, verifierKey) {
  const name = `idv.verifier.${node}`;
  const saved = localStorage.getItem(name);
  if (!saved) {
    localStorage.setItem(name, JSON.stringify({ key: verifierKey, since: new Date().toISOString() }));
    return { first: true };
  }
  const p = JSON.parse(saved);
  return p.key === verifierKey ? { since: p.since } : { changed: true, pinned: p.key, since: p.since };
}

export function repin(node, verifierKey) {
  localStorage.removeItem(`idv.verifier.${node}`);
  return pinnedKey(node, verifierKey);
}

// Checks an InclusionProof (JSON, bytes as base64) against a signed checkpoint, for the record
// whose stored bytes (base64) are given: the leaf is hashed here from those bytes.
export async function checkInclusion(proof, checkpoint, verifierKey, node, recordB64) {
  const pin = pinnedKey(node, verifierKey);
  if (pin.changed) {
    throw new Error(`the log's verifier key is not the one this browser pinned on ${pin.since}`);
  }
  const leaf = await sha256(Uint8Array.of(0), b64(recordB64));
  if (!equal(leaf, b64(proof.leaf_hash))) throw new Error("the record's bytes do not hash to the proven leaf");
  const text = await openNote(checkpoint, verifierKey);
  const [, sizeLine, rootLine] = text.split('\n');
  const size = BigInt(sizeLine);
  if (BigInt(proof.tree_size) !== size) throw new Error('the proof is for another tree size');
  const root = await rootFromInclusion(BigInt(proof.index), size, leaf, (proof.hashes || []).map(b64));
  if (!equal(root, b64(rootLine))) throw new Error("the proof does not lead to the checkpoint's root");
  return { size: sizeLine, root: rootLine };
}
