# Valid at plan time; the server refuses it at apply, and the error must carry its detail.
terraform {
  required_providers {
    scimd = { source = "scimd/scimd" }
  }
}

resource "scimd_realm" "orphan" {
  tenant = "no-such-tenant"
  name   = "prod"
}
