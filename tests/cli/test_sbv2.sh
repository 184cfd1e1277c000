#!/usr/bin/env bash
# ESP32 Secure Boot v2: otto image sign makes the signature sector
# espsecure.py makes, openssl verifies otto's RSA-PSS blocks, and a
# simulated device with keys in its eFuse installs and boots only what a
# trusted, unrevoked key signed: refused at the OTA write (as esp_ota_end
# refuses) and refused by the bootloader, which falls back.
set -euo pipefail
OTTO="$1"; SIM="$2"
t="$(mktemp -d)"; trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
refuses() { # refuses WHY CMD...: CMD must exit 1 saying WHY
  local why="$1" out rc=0; shift
  out="$("$@" 2>&1)" || rc=$?
  [ $rc = 1 ] || fail "expected a refusal ($why), got exit $rc: $out"
  grep -q "$why" <<<"$out" || fail "refused, but not because '$why': $out"
}
cd "$t"

"$OTTO" key gen --type rsa3072 -o rsa.pem >/dev/null
"$OTTO" key gen -o ec.pem >/dev/null
"$OTTO" key gen --type rsa3072 -o other.pem >/dev/null
openssl pkey -pubin -in rsa.pub.pem -noout -text | grep -q "3072 bit" || fail "not an RSA-3072 key"
"$OTTO" image build --version 1.0.0 --project sb --size 60K -o f.bin >/dev/null
"$OTTO" image build --version 2.0.0 --project sb --size 50001 -o v2.bin >/dev/null
"$OTTO" image sign --secure-boot-v2 --key ec.pem f.bin -o f.s.bin >/dev/null
"$OTTO" image sign --secure-boot-v2 --key rsa.pem v2.bin -o v2.rsa.bin >/dev/null
"$OTTO" image sign --secure-boot-v2 --key other.pem v2.bin -o v2.other.bin >/dev/null
"$OTTO" image sign --secure-boot-v2 --pad-64k --key ec.pem --key rsa.pem v2.bin -o v2.two64.bin >/dev/null

# Layout: 4 KiB padding of 0xFF, then the sector; 64K variant ends on 64 KiB.
ilen=$(stat -c %s v2.bin); pad=$(( (ilen + 4095) / 4096 * 4096 ))
[ "$(stat -c %s v2.rsa.bin)" = $((pad + 4096)) ] || fail "v2.rsa.bin is not padded to 4 KiB + a sector"
[ $(( $(stat -c %s v2.two64.bin) % 65536 )) = 0 ] || fail "--pad-64k does not end on 64 KiB"
cmp -n "$ilen" v2.bin v2.rsa.bin || fail "the image bytes changed"
[ "$(tail -c +$((ilen + 1)) v2.rsa.bin | head -c $((pad - ilen)) | tr -d '\377' | wc -c)" = 0 ] \
  || fail "padding is not 0xFF"
ok "sign: padded to 4 KiB (or 64 KiB) with 0xFF, one 4 KiB sector"

# openssl verifies otto's RSA-PSS block: SHA-256 of the padded image, the
# signature stored little-endian at block offset 812.
head -c "$pad" v2.rsa.bin | openssl dgst -sha256 -binary > digest.bin
tail -c +$((pad + 812 + 1)) v2.rsa.bin | head -c 384 | perl -0777 -ne 'print scalar reverse $_' > sig.be
openssl pkeyutl -verify -pubin -inkey rsa.pub.pem -in digest.bin -sigfile sig.be -pkeyopt digest:sha256 \
  -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 | grep -q "Verified Successfully" \
  || fail "openssl does not verify otto's RSA-PSS block"
cmp -s <(tail -c +$((pad + 5)) v2.rsa.bin | head -c 32) digest.bin || fail "the block's digest is not the image's"
ok "openssl pkeyutl (RSA-PSS, SHA-256, MGF1, salt 32) verifies otto's block"

"$OTTO" image info v2.two64.bin --trust rsa.pub.pem | grep -q "block 1 .*RSA-3072" || fail "info: no second block"
"$OTTO" image info v2.two64.bin --trust rsa.pub.pem >/dev/null || fail "info: the RSA block does not verify"
refuses "" "$OTTO" image info v2.other.bin --trust rsa.pub.pem
"$OTTO" image info v2.rsa.bin --json | grep -q '"secure_boot_v2":{"sector":' || fail "info --json: no blocks"
ok "image info shows the blocks and which a trusted key verifies"

# A device whose eFuse holds the EC and RSA keys (factory app signed too).
"$SIM" mkflash -o d.img --factory f.s.bin --secure-boot-key ec.pub.pem --secure-boot-key rsa.pub.pem \
  | grep -q "Secure Boot v2 on" || fail "mkflash did not burn the keys"
"$SIM" boot --flash d.img | grep -q "boot: factory v1.0.0" || fail "the signed factory app does not boot"
refuses "no signature, or none made by a trusted key" "$SIM" ota --flash d.img v2.bin
refuses "no signature, or none made by a trusted key" "$SIM" ota --flash d.img v2.other.bin
# A forged block: the signature changed, the CRC made right again.
cp v2.rsa.bin forged.bin
python3 -c "import sys; b = bytearray(open('forged.bin', 'rb').read()); b[int(sys.argv[1])] ^= 0x55; open('forged.bin', 'wb').write(b)" $((pad + 900))
head -c $((pad + 1196)) forged.bin | tail -c 1196 | gzip -c | tail -c 8 | head -c 4 > crc.bin
dd if=crc.bin of=forged.bin bs=1 seek=$((pad + 1196)) conv=notrunc status=none
out="$("$OTTO" image info forged.bin)" && fail "info: a forged block passed"
grep -q "FAILS: the signature does not verify" <<<"$out" || fail "info: the forged block is not named: $out"
refuses "no signature, or none made by a trusted key" "$SIM" ota --flash d.img forged.bin
# Garbage after an image is not a signature sector, Secure Boot or not.
"$SIM" mkflash -o plain.img --factory f.bin >/dev/null
{ cat v2.bin; head -c $((pad - ilen + 4096)) /dev/zero; } > garbage.bin
refuses "corrupt" "$SIM" ota --flash plain.img garbage.bin
"$SIM" ota --flash plain.img v2.rsa.bin >/dev/null || fail "a device without Secure Boot refuses a signed image"
ok "the device refuses unsigned, untrusted and forged images at the OTA write"

"$SIM" ota --flash d.img v2.two64.bin | grep -q "selected ota_0" || fail "a trusted 64K-padded image was refused"
"$SIM" boot --flash d.img --run | grep -q "self-test passed" || fail "the signed image did not boot"
"$SIM" ota --flash d.img v2.rsa.bin | grep -q "selected ota_1" || fail "the RSA-signed image was refused"
"$SIM" efuse --flash d.img --secure-boot-revoke 1 | grep -q "key block 1 .*REVOKED" || fail "no revocation"
out="$("$SIM" boot --flash d.img --run)"
grep -q "image in ota_1 rejected (no signature" <<<"$out" || fail "the bootloader took a revoked key's image: $out"
grep -q "boot: ota_0 v2.0.0 .*fell back" <<<"$out" || fail "no fallback to ota_0: $out"
refuses "no signature, or none made by a trusted key" "$SIM" ota --flash d.img v2.rsa.bin
ok "revoked key: the bootloader refuses its image and falls back; OTA refuses it too"
