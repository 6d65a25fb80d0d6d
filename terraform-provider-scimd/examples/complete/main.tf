# A tenant with two realms: one provisioned by Microsoft Entra ID over OAuth 2.0 client
# credentials (a client secret, or workload identity federation), one by Okta with a bearer
# token. The provider reads SCIMD_ENDPOINT and SCIMD_ADMIN_TOKEN (a global admin token, since
# it creates a tenant).
#
#   export SCIMD_ENDPOINT=https://scimd.example.com SCIMD_ADMIN_TOKEN=scimd_admin_...
#   terraform apply
#   terraform output -raw okta_token        # paste into Okta, with okta_scim_base_url

terraform {
  required_providers {
    scimd = {
      source = "scimd/scimd"
    }
  }
}

provider "scimd" {}

variable "tenant" {
  type    = string
  default = "acme"
}

variable "okta_token_name" {
  description = "Renaming the token replaces it (a new value to paste into Okta)."
  type        = string
  default     = "okta-provisioning"
}

variable "entra_tenant_id" {
  description = "Your Entra directory (tenant) id, for workload identity federation."
  type        = string
  default     = "72f988bf-86f1-41af-91ab-2d7cd011db47"
}

resource "scimd_tenant" "acme" {
  name         = var.tenant
  display_name = "Acme Corp"
}

# ---- Microsoft Entra ID: OAuth 2.0 client credentials only -------------------------------
resource "scimd_realm" "entra" {
  tenant       = scimd_tenant.acme.name
  name         = "entra"
  display_name = "Workforce (Entra ID)"
  auth_methods = ["oauth"]
}

resource "scimd_oauth_client" "entra" {
  tenant = scimd_realm.entra.tenant
  realm  = scimd_realm.entra.name
  name   = "entra-provisioning"
  scopes = ["scim:all"]
}

# With a client secret (Entra's non-gallery app: Client ID, Client Secret, Token Endpoint)...
resource "scimd_oauth_client_secret" "entra" {
  tenant          = scimd_oauth_client.entra.tenant
  realm           = scimd_oauth_client.entra.realm
  client_id       = scimd_oauth_client.entra.id
  description     = "Entra provisioning, 2026"
  expires_in_days = 365
}

# ...or with no secret at all: Entra signs a JWT for its managed identity.
resource "scimd_federated_credential" "entra" {
  tenant          = scimd_oauth_client.entra.tenant
  realm           = scimd_oauth_client.entra.realm
  client_id       = scimd_oauth_client.entra.id
  name            = "entra-managed-identity"
  preset          = "entra"
  entra_tenant_id = var.entra_tenant_id
  subject         = "00000000-0000-0000-0000-000000000001"
  audience        = "api://AzureADTokenExchange"
}

# ---- Okta: a bearer token ----------------------------------------------------------------
resource "scimd_realm" "okta" {
  tenant       = scimd_tenant.acme.name
  name         = "okta"
  display_name = "Contractors (Okta)"
  auth_methods = ["token"]
}

resource "scimd_token" "okta" {
  tenant          = scimd_realm.okta.tenant
  realm           = scimd_realm.okta.name
  name            = var.okta_token_name
  description     = "Okta SCIM provisioning"
  scopes          = ["scim:all"]
  expires_in_days = 365
}

# ---- What to paste into the identity providers --------------------------------------------
output "entra_scim_base_url" {
  value = scimd_realm.entra.scim_base_url
}

output "entra_token_endpoint" {
  value = scimd_oauth_client.entra.token_endpoint
}

output "entra_client_id" {
  value = scimd_oauth_client.entra.client_id
}

output "entra_client_secret" {
  value     = scimd_oauth_client_secret.entra.client_secret
  sensitive = true
}

output "okta_scim_base_url" {
  value = scimd_realm.okta.scim_base_url
}

output "okta_token" {
  value     = scimd_token.okta.token_value
  sensitive = true
}
