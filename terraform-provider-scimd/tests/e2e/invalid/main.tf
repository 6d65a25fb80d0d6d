# Every argument here is wrong in a way `terraform plan` must report, before any API call.
terraform {
  required_providers {
    scimd = { source = "scimd/scimd" }
  }
}

resource "scimd_realm" "bad" {
  tenant       = "Acme"
  name         = "prod"
  state        = "off"
  auth_methods = ["saml"]
}

resource "scimd_token" "bad" {
  tenant          = "acme"
  realm           = "prod"
  name            = "okta"
  scopes          = ["scim:write"]
  expires_in_days = 0
}
