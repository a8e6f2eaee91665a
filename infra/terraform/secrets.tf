# Secrets Manager: every secret the apps read, encrypted with the secrets key. Terraform creates
# the secrets but never their values (which would then sit in its state): put each value once
# with `aws secretsmanager put-secret-value` (README.md). ECS injects them into the containers
# as RAGSTREAM_* environment variables; each execution role may read only its service's.

locals {
  secrets = merge(
    {
      database_url = {
        env         = "RAGSTREAM_DATABASE_URL"
        description = "postgresql://USER:PASSWORD@HOST:5432/ragstream?sslmode=require for the apps' database role"
      }
      openai_api_key = {
        env         = "RAGSTREAM_OPENAI_API_KEY"
        description = "OpenAI (or compatible server) API key, for embeddings and answers"
      }
      api_token = {
        env         = "RAGSTREAM_API_TOKEN"
        description = "Bearer token the query API requires on every route but /healthz and /readyz"
      }
      qdrant_api_key = {
        env         = "RAGSTREAM_QDRANT_API_KEY"
        description = "API key of the Qdrant server"
      }
    },
    var.temporal_tls ? {
      temporal_tls_cert = {
        env         = "RAGSTREAM_TEMPORAL_TLS_CERT"
        description = "PEM client certificate for Temporal mTLS"
      }
      temporal_tls_key = {
        env         = "RAGSTREAM_TEMPORAL_TLS_KEY"
        description = "PEM private key of the Temporal client certificate"
      }
    } : {},
  )

  # Every deployable talks to Temporal, so each gets the Temporal client certificate.
  temporal_secret_keys = var.temporal_tls ? ["temporal_tls_cert", "temporal_tls_key"] : []
  service_secret_keys  = { for s, keys in local.service_secrets : s => concat(keys, local.temporal_secret_keys) }
}

resource "aws_secretsmanager_secret" "app" {
  #checkov:skip=CKV2_AWS_57:These values are issued outside AWS (OpenAI key, Temporal client certificate, Qdrant key, the API token clients hold): no rotation Lambda can reissue them. README.md gives the rotation procedure; the RDS master password is rotated by RDS.
  for_each = local.secrets

  name                    = "${local.name}/${replace(each.key, "_", "-")}"
  description             = "${each.value.env}: ${each.value.description}"
  kms_key_id              = aws_kms_key.secrets.arn
  recovery_window_in_days = 30
}
