#!/usr/bin/env bash
# scripts/terraform-e2e.sh — the Terraform provider end to end, with the real terraform CLI
# against a real scimd (SQLite, in a temp dir):
#   the provider's unit tests; plan-time validation (no API call); an API refusal's detail in
#   the diagnostic; apply of examples/complete (+ tests/e2e/extra.tf: Basic credential,
#   trusted issuer, data sources); a no-op plan; the token, client secret and Basic password outputs working on
#   the SCIM API and the token endpoint; a renamed token replaced (old value refused, new one
#   working); a token revoked behind Terraform's back re-created; a realm, a token and a
#   client secret imported with a clean plan after; an optional argument removed and cleared
#   in place (a trusted issuer's subject); destroy, and nothing left in scimd.
#
# Needs: terraform (>= 1.5) on PATH, protoc with the well-known types (Debian:
# protobuf-compiler libprotobuf-dev) to build the provider, curl, jq, python3.
# With CI=true a missing terraform is a failure; otherwise the script says so and skips.
# Env: SCIMD_TF_KEEP=1 keeps the temp dir (configs, state, server log) and prints its path.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR

say() { printf '[terraform-e2e] %s\n' "$*"; }
fail() {
    say "FAIL: $*" >&2
    exit 1
}

if ! command -v terraform >/dev/null; then
    if [[ ${CI:-} == true ]]; then
        fail "terraform is not on PATH (CI=true: this is a failure, not a skip)"
    fi
    say "SKIP: terraform is not on PATH (install Terraform >= 1.5 to run this test)"
    exit 0
fi
for c in curl jq python3; do command -v "$c" >/dev/null || fail "$c is needed"; done

say "unit tests and build (cargo test/build -p terraform-provider-scimd)"
cargo test --locked -p terraform-provider-scimd --quiet 2>&1 | grep -E "^test result|FAILED|panicked" || true
cargo test --locked -p terraform-provider-scimd --quiet >/dev/null 2>&1 || fail "the provider's unit tests failed"
cargo build --locked -p terraform-provider-scimd --bin terraform-provider-scimd --quiet
cargo build --locked --bin scimd --quiet

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scimd-tf.XXXXXX")
SERVER_PID=""
cleanup() {
    local rc=$?
    [[ -z $SERVER_PID ]] || kill -TERM "$SERVER_PID" 2>/dev/null || true
    [[ -z $SERVER_PID ]] || wait "$SERVER_PID" 2>/dev/null || true
    if [[ $rc -ne 0 && -f $TMP/server.log ]]; then
        say "last lines of the server log:"
        tail -n 20 "$TMP/server.log" >&2
    fi
    if [[ ${SCIMD_TF_KEEP:-0} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    [[ $rc -eq 0 ]] && say "PASS" || say "FAILED (exit $rc)"
}
trap cleanup EXIT

# ---- the provider, where Terraform's dev_overrides look for it ---------------------------
mkdir -p "$TMP/plugins"
cp "$TARGET_DIR/debug/terraform-provider-scimd" "$TMP/plugins/"
cat >"$TMP/terraformrc" <<EOF
provider_installation {
  dev_overrides { "registry.terraform.io/scimd/scimd" = "$TMP/plugins" }
  direct {}
}
EOF
export TF_CLI_CONFIG_FILE=$TMP/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export RUST_LOG=warn

# ---- scimd -------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
export SCIMD_DATABASE_URL="sqlite://$TMP/scimd.db?mode=rwc"
ADMIN_TOKEN=$(cd "$TMP" && "$TARGET_DIR/debug/scimd" admin-token create --name terraform 2>/dev/null |
    grep -o 'scimd_admin_[A-Za-z0-9_-]*' | head -n 1) || true
[[ -n $ADMIN_TOKEN ]] || fail "'scimd admin-token create' printed no token"
(cd "$TMP" && SCIMD_LISTEN=127.0.0.1:$PORT SCIMD_METRICS_LISTEN=127.0.0.1:0 \
    exec "$TARGET_DIR/debug/scimd" serve) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
export SCIMD_ENDPOINT=http://127.0.0.1:$PORT SCIMD_ADMIN_TOKEN=$ADMIN_TOKEN
for _ in $(seq 1 100); do
    curl -fsS --max-time 2 -o /dev/null "$SCIMD_ENDPOINT/readyz" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "scimd exited at start"
    sleep 0.2
done
curl -fsS -o /dev/null "$SCIMD_ENDPOINT/readyz" || fail "scimd did not get ready"

admin() { # METHOD PATH -> body on stdout; HTTP status in $TMP/status
    curl -sS -o "$TMP/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" \
        "$SCIMD_ENDPOINT$2" >"$TMP/status"
    cat "$TMP/body"
}
status() { cat "$TMP/status"; }

tf() { # DIR ARGS... -> output in $TMP/out; returns terraform's exit code
    local dir=$1
    shift
    local rc=0
    (cd "$dir" && terraform "$@" -no-color) >"$TMP/out" 2>&1 || rc=$?
    return "$rc"
}
show() { sed 's/^/    | /' "$TMP/out" | tail -n "${1:-40}" >&2; }
expect_out() { grep -qF -- "$1" "$TMP/out" || { show; fail "terraform's output lacks: $1"; }; }
plan_rc() { # DIR ARGS... -> echoes plan's -detailed-exitcode (0 none, 2 changes, 1 error)
    local dir=$1 rc=0
    shift
    tf "$dir" plan -detailed-exitcode "$@" || rc=$?
    echo "$rc"
}
state_attr() { # RESOURCE ATTRIBUTE
    (cd "$CFG" && terraform state show -no-color "$1") |
        awk -v k="$2" '$1 == k { v = $3; gsub(/"/, "", v); print v; exit }'
}
scim_status() { # AUTH-HEADER URL
    curl -sS -o /dev/null -w '%{http_code}' -H "$1" "$2"
}

# ---- plan-time validation: no API call needed to know these are wrong --------------------
say "plan-time validation"
rc=0
tf "$ROOT/terraform-provider-scimd/tests/e2e/invalid" plan || rc=$?
[[ $rc -eq 1 ]] || { show; fail "plan of invalid arguments exited $rc, not 1"; }
for m in '"Acme" must be 1-63 characters' '"off" is not a realm state' '"saml" is not a auth method' \
    '"scim:write" is not a scope' 'must be between 1 and 3650 days, not 0'; do
    expect_out "$m"
done

say "an API refusal carries the server's detail"
rc=0
tf "$ROOT/terraform-provider-scimd/tests/e2e/missing-tenant" apply -auto-approve || rc=$?
[[ $rc -eq 1 ]] || { show; fail "apply into a missing tenant exited $rc"; }
expect_out "scimd_realm: create failed"
expect_out "no tenant 'no-such-tenant'"

# ---- the example, applied ----------------------------------------------------------------
CFG=$TMP/cfg
mkdir -p "$CFG"
cp "$ROOT/terraform-provider-scimd/examples/complete/main.tf" "$CFG/"
cp "$ROOT/terraform-provider-scimd/tests/e2e/extra.tf" "$CFG/"

say "apply examples/complete"
tf "$CFG" apply -auto-approve || { show; fail "apply failed"; }
expect_out "Resources: 10 added, 0 changed, 0 destroyed."
[[ $(plan_rc "$CFG") == 0 ]] || { show; fail "a plan right after apply is not empty"; }

okta_base=$(cd "$CFG" && terraform output -raw okta_scim_base_url)
[[ $okta_base == "$SCIMD_ENDPOINT/v1/tenants/acme/realms/okta/scim/v2" ]] || fail "okta_scim_base_url is $okta_base"
[[ $(cd "$CFG" && terraform output -raw okta_base_url_from_data) == "$okta_base" ]] ||
    fail "data.scimd_realm disagrees on the base URL"
(cd "$CFG" && terraform output -json okta_token_names) | jq -e '. == ["okta-provisioning"]' >/dev/null ||
    fail "data.scimd_tokens does not list the token"
admin GET /v1/tenants/acme/realms/entra >/dev/null
[[ $(status) == 200 ]] || fail "realm entra not in scimd"
jq -e '.auth_methods == ["oauth"] and .display_name == "Workforce (Entra ID)"' "$TMP/body" >/dev/null ||
    fail "realm entra: $(cat "$TMP/body")"

say "the credentials Terraform created work on the SCIM API"
old_token=$(cd "$CFG" && terraform output -raw okta_token)
[[ $(scim_status "Authorization: Bearer $old_token" "$okta_base/Users") == 200 ]] ||
    fail "the okta_token output is refused by the SCIM API"
client_id=$(cd "$CFG" && terraform output -raw entra_client_id)
secret=$(cd "$CFG" && terraform output -raw entra_client_secret)
access=$(curl -sS -u "$client_id:$secret" -d grant_type=client_credentials \
    "$(cd "$CFG" && terraform output -raw entra_token_endpoint)" | jq -r .access_token)
[[ -n $access && $access != null ]] || fail "the client secret got no access token"
entra_base=$(cd "$CFG" && terraform output -raw entra_scim_base_url)
[[ $(scim_status "Authorization: Bearer $access" "$entra_base/Users") == 200 ]] ||
    fail "the access token is refused by the SCIM API"
basic=$(printf 'jumpcloud:%s' "$(cd "$CFG" && terraform output -raw jumpcloud_password)" | base64 -w0)
[[ $(scim_status "Authorization: Basic $basic" "$(cd "$CFG" && terraform output -raw jumpcloud_scim_base_url)/Users") == 200 ]] ||
    fail "the generated Basic password is refused"
fed=$(state_attr scimd_federated_credential.entra issuer)
[[ $fed == https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0 ]] ||
    fail "the entra preset's issuer is $fed"

# ---- a changed force-new argument --------------------------------------------------------
say "renaming the token replaces it"
[[ $(plan_rc "$CFG" -var okta_token_name=okta-2026) == 2 ]] || { show; fail "no change planned for a rename"; }
expect_out "scimd_token.okta must be replaced"
expect_out '~ name            = "okta-provisioning" -> "okta-2026" # forces replacement'
tf "$CFG" apply -auto-approve -var okta_token_name=okta-2026 || { show; fail "apply of the rename failed"; }
expect_out "Resources: 1 added, 0 changed, 1 destroyed."
new_token=$(cd "$CFG" && terraform output -raw okta_token)
[[ $new_token != "$old_token" ]] || fail "the replaced token kept its value"
[[ $(scim_status "Authorization: Bearer $new_token" "$okta_base/Users") == 200 ]] || fail "the new token is refused"
[[ $(scim_status "Authorization: Bearer $old_token" "$okta_base/Users") == 401 ]] || fail "the old token still works"
[[ $(plan_rc "$CFG" -var okta_token_name=okta-2026) == 0 ]] || { show; fail "plan after the rename is not empty"; }

# ---- drift -------------------------------------------------------------------------------
say "a token revoked behind Terraform's back is re-created"
token_id=$(state_attr scimd_token.okta id)
admin DELETE "/v1/tenants/acme/realms/okta/tokens/$token_id" >/dev/null
[[ $(status) == 204 ]] || fail "revoking the token through the API: $(status)"
[[ $(plan_rc "$CFG" -var okta_token_name=okta-2026) == 2 ]] || { show; fail "the revoked token is not planned"; }
expect_out "scimd_token.okta will be created"
tf "$CFG" apply -auto-approve -var okta_token_name=okta-2026 || { show; fail "re-creating the token failed"; }
expect_out "Resources: 1 added, 0 changed, 0 destroyed."

# ---- import --------------------------------------------------------------------------------
say "import a realm, a token and a client secret"
token_id=$(state_attr scimd_token.okta id)
secret_id=$(state_attr scimd_oauth_client_secret.entra id)
tf "$CFG" state rm scimd_realm.okta scimd_token.okta scimd_oauth_client_secret.entra || { show; fail "state rm"; }
tf "$CFG" import -var okta_token_name=okta-2026 scimd_realm.okta acme/okta || { show; fail "import of the realm"; }
tf "$CFG" import -var okta_token_name=okta-2026 scimd_token.okta "acme/okta/$token_id" || { show; fail "import of the token"; }
tf "$CFG" import -var okta_token_name=okta-2026 scimd_oauth_client_secret.entra "acme/entra/$client_id/$secret_id" ||
    { show; fail "import of the client secret"; }
[[ $(plan_rc "$CFG" -var okta_token_name=okta-2026) == 0 ]] || { show; fail "plan after import is not empty"; }
rc=0
tf "$CFG" import -var okta_token_name=okta-2026 scimd_token.okta acme/okta || rc=$?
[[ $rc -ne 0 ]] || fail "an import id without the token id was accepted"

# ---- an in-place update ----------------------------------------------------------------
say "an optional argument taken out is cleared in place"
V=(-var okta_token_name=okta-2026 -var restrict_subject=false)
[[ $(plan_rc "$CFG" "${V[@]}") == 2 ]] || { show; fail "no change planned for the subject"; }
expect_out "scimd_trusted_issuer.okta will be updated in-place"
expect_out 'Plan: 0 to add, 1 to change, 0 to destroy.'
tf "$CFG" apply -auto-approve "${V[@]}" || { show; fail "the in-place update failed"; }
issuer_id=$(state_attr scimd_trusted_issuer.okta id)
admin GET "/v1/tenants/acme/realms/okta/trusted-issuers/$issuer_id" >/dev/null
jq -e '.subject == null and .scope_values["scim.read"] == "scim:read"' "$TMP/body" >/dev/null ||
    fail "trusted issuer after the update: $(cat "$TMP/body")"
[[ $(plan_rc "$CFG" "${V[@]}") == 0 ]] || { show; fail "plan after the update is not empty"; }

# ---- destroy -----------------------------------------------------------------------------
say "destroy"
tf "$CFG" destroy -auto-approve "${V[@]}" || { show; fail "destroy failed"; }
expect_out "Resources: 10 destroyed."
admin GET /v1/tenants/acme >/dev/null
[[ $(status) == 404 ]] || fail "tenant acme still exists after destroy"
[[ $(scim_status "Authorization: Bearer $new_token" "$okta_base/Users") != 200 ]] || fail "the token outlived destroy"
admin GET /v1/tenants >/dev/null
jq -e '[.items[].id] == ["default"]' "$TMP/body" >/dev/null || fail "tenants left: $(cat "$TMP/body")"
