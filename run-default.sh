#!/usr/bin/env bash
# The main job on the embedded default, until the daemon (`inline-signer serve`) lands: generate keys on first run,
# sign zones/example.com (NSEC3, ZONEMD), and verify the result with our verifier (and BIND's, when installed).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/InlineSigner.Cli -c Release -o .build/cli -v quiet -nologo
IS=(dotnet .build/cli/inline-signer.dll)
mkdir -p data/keys
if ! ls data/keys/Kexample.com.+013+*.private >/dev/null 2>&1; then
  "${IS[@]}" keys generate --zone example.com --algorithm ECDSAP256SHA256 --ksk --dir data/keys
  "${IS[@]}" keys generate --zone example.com --algorithm ECDSAP256SHA256 --dir data/keys
fi
"${IS[@]}" sign --zone example.com --in zones/example.com --out data/example.com.signed --key-dir data/keys --nsec3 --zonemd sha384
"${IS[@]}" verify --zone example.com --in data/example.com.signed
if command -v dnssec-verify >/dev/null; then dnssec-verify -o example.com data/example.com.signed; fi
echo "signed zone: data/example.com.signed"
