// Computes the NPPA known-answer vectors of tests/verifiers/nppa_kat.txt with Go's standard
// library (crypto/aes, crypto/cipher, crypto/sha256, encoding/base64, encoding/hex), an
// implementation independent of the OpenSSL and libsodium code idv uses. Prints the file.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
)

func main() {
	secretKey := "00112233445566778899aabbccddeeff"
	plaintext := `{"ai":"100000000000000001","name":"某一一","idNum":"110000190101010001"}`
	iv := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	params := map[string]string{"appId": "test-app-id", "bizId": "1101999999", "timestamps": "1584949895758"}

	key, err := hex.DecodeString(secretKey)
	if err != nil {
		panic(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	sealed := gcm.Seal(append([]byte{}, iv...), iv, []byte(plaintext), nil)
	data := base64.StdEncoding.EncodeToString(sealed)
	body := `{"data":"` + data + `"}`

	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(secretKey))
	for _, name := range names {
		h.Write([]byte(name + params[name]))
	}
	h.Write([]byte(body))

	fmt.Printf("secret_key %s\n", secretKey)
	fmt.Printf("iv %s\n", hex.EncodeToString(iv))
	for _, name := range names {
		fmt.Printf("param %s %s\n", name, params[name])
	}
	fmt.Printf("plaintext %s\n", plaintext)
	fmt.Printf("data %s\n", data)
	fmt.Printf("body %s\n", body)
	fmt.Printf("sign %s\n", hex.EncodeToString(h.Sum(nil)))
}
