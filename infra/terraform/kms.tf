# One customer-managed key per concern, so a role that may decrypt one kind of data cannot
# decrypt another. Every key rotates yearly; its policy delegates to IAM (the account root
# statement) and adds only the AWS services that must use it on their own.

locals {
  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"
}

data "aws_iam_policy_document" "kms_account_root" {
  #checkov:skip=CKV_AWS_109:KMS key policy: "*" as Resource means this key only, and the account root statement is what delegates the key's use to IAM policies.
  #checkov:skip=CKV_AWS_111:KMS key policy: "*" as Resource means this key only, and the account root statement is what delegates the key's use to IAM policies.
  #checkov:skip=CKV_AWS_356:KMS key policy: "*" as Resource means this key only.
  statement {
    sid       = "AccountAdministersAndDelegatesToIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }
}

# --- documents: the S3 bucket and the S3-event queues ---------------------------------------

data "aws_iam_policy_document" "kms_documents" {
  #checkov:skip=CKV_AWS_109:KMS key policy: "*" as Resource means this key only.
  #checkov:skip=CKV_AWS_111:KMS key policy: "*" as Resource means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: "*" as Resource means this key only.
  source_policy_documents = [data.aws_iam_policy_document.kms_account_root.json]

  # S3 encrypts the event notifications it sends to the KMS-encrypted queue with this key
  # (AWS's documented policy for this has no condition: which bucket may send is restricted by
  # the queue policy, sqs.tf).
  statement {
    sid       = "S3SendsEncryptedEventNotifications"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "documents" {
  description             = "${local.name}: documents bucket and S3-event queues"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_documents.json
}

resource "aws_kms_alias" "documents" {
  name          = "alias/${local.name}/documents"
  target_key_id = aws_kms_key.documents.key_id
}

# --- logs: every CloudWatch log group -------------------------------------------------------

data "aws_iam_policy_document" "kms_logs" {
  #checkov:skip=CKV_AWS_109:KMS key policy: "*" as Resource means this key only.
  #checkov:skip=CKV_AWS_111:KMS key policy: "*" as Resource means this key only.
  #checkov:skip=CKV_AWS_356:KMS key policy: "*" as Resource means this key only.
  source_policy_documents = [data.aws_iam_policy_document.kms_account_root.json]

  statement {
    sid = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${local.name}: CloudWatch log groups"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_logs.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.name}/logs"
  target_key_id = aws_kms_key.logs.key_id
}

# --- secrets: Secrets Manager (and the RDS-managed master password) -------------------------

resource "aws_kms_key" "secrets" {
  description             = "${local.name}: Secrets Manager secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_account_root.json
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.name}/secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

# --- rds: database storage, snapshots and Performance Insights -----------------------------

resource "aws_kms_key" "rds" {
  description             = "${local.name}: RDS storage, snapshots and Performance Insights"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_account_root.json
}

resource "aws_kms_alias" "rds" {
  name          = "alias/${local.name}/rds"
  target_key_id = aws_kms_key.rds.key_id
}

# --- msk: Kafka broker storage --------------------------------------------------------------

resource "aws_kms_key" "msk" {
  description             = "${local.name}: MSK broker storage"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms_account_root.json
}

resource "aws_kms_alias" "msk" {
  name          = "alias/${local.name}/msk"
  target_key_id = aws_kms_key.msk.key_id
}
