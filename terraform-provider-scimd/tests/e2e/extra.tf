# Added to examples/complete by scripts/terraform-e2e.sh: the resources and data sources the
# example does not use, so that every one of them is applied, read back and destroyed.

resource "scimd_realm" "jumpcloud" {
  tenant       = scimd_tenant.acme.name
  name         = "jumpcloud"
  auth_methods = ["basic"]
}

resource "scimd_basic_credential" "jumpcloud" {
  tenant          = scimd_realm.jumpcloud.tenant
  realm           = scimd_realm.jumpcloud.name
  username        = "jumpcloud"
  scopes          = ["scim:all"]
  expires_in_days = 90
}

data "scimd_realm" "okta" {
  tenant = scimd_realm.okta.tenant
  name   = scimd_realm.okta.name
}

data "scimd_tokens" "okta" {
  tenant     = scimd_token.okta.tenant
  realm      = scimd_token.okta.realm
  depends_on = [scimd_token.okta]
}

output "jumpcloud_scim_base_url" {
  value = scimd_realm.jumpcloud.scim_base_url
}

output "jumpcloud_password" {
  value     = scimd_basic_credential.jumpcloud.password
  sensitive = true
}

output "okta_base_url_from_data" {
  value = data.scimd_realm.okta.scim_base_url
}

output "okta_token_names" {
  value = [for t in data.scimd_tokens.okta.tokens : t.name]
}

variable "restrict_subject" {
  description = "false takes subject out of the trusted issuer: an in-place update that clears it."
  type        = bool
  default     = true
}

resource "scimd_trusted_issuer" "okta" {
  tenant       = scimd_realm.okta.tenant
  realm        = scimd_realm.okta.name
  name         = "okta-as"
  issuer       = "https://acme.okta.com/oauth2/default"
  audience     = "api://scimd"
  subject      = var.restrict_subject ? "okta-scim-app" : null
  scope_claim  = "scp"
  scope_values = { "scim.write" = "scim:all", "scim.read" = "scim:read" }
}
