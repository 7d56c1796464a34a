#!/usr/bin/env bash
# Installs each validator SDK as its users do, into an empty place, and uses it:
# the Python package with pip into a fresh virtualenv, the TypeScript package
# from the tarball npm pack makes into an empty project (JavaScript import and
# a strict type check against its .d.ts files).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A fresh virtualenv without pip of its own (ensurepip is slow): the pip
# given as $1 (make's SDK venv) installs into it.
pip=${1:-pip3}
python3 -m venv --without-pip "$tmp/venv"
"$pip" --python "$tmp/venv/bin/python" install --quiet --disable-pip-version-check ./validator/python
(cd "$tmp" && venv/bin/python -c '
import pregate_validator, pregate_validator.testing
gate = pregate_validator.testing.FakeGate()
call = gate.call("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "pri_1")
assert pregate_validator.Verifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(call.headers, call.body).privacy_request_id == "pri_1"
print("pip install ./validator/python: pregate_validator imports and verifies")')

sdk=$PWD/validator/typescript
# make has just built dist/; --ignore-scripts skips prepare's second build.
(cd "$sdk" && npm pack --silent --ignore-scripts --pack-destination "$tmp" > /dev/null)
mkdir "$tmp/app"
cd "$tmp/app"
printf '{"name":"app","private":true,"type":"module"}\n' > package.json
npm install --silent --no-audit --no-fund --prefer-offline "$tmp"/pregate-validator-*.tgz
cat > app.ts <<'TS'
import { Verifier, type Call, type Decision } from "@pregate/validator";
import { FakeGate } from "@pregate/validator/testing";
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const call = new FakeGate().call(secret, "pri_1");
const checked: Call = new Verifier(secret).verify(call.headers, call.body);
const decision: Decision = checked.privacyRequestId === "pri_1" ? "eligible" : "not_eligible";
if (decision !== "eligible") throw new Error("not verified");
TS
"$sdk/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 \
  --typeRoots "$sdk/node_modules/@types" --types node app.ts
cp app.ts app.mjs
sed -i 's/, type Call, type Decision//; s/: Call//; s/: Decision//' app.mjs
node app.mjs
echo "npm pack: @pregate/validator installs into an empty project, imports and type-checks"
