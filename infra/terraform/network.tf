# Three subnet tiers per AZ:
#   public  - the load balancer and the NAT gateways;
#   private - the Fargate tasks, out to the internet only through NAT (OpenAI, Temporal Cloud,
#             Qdrant Cloud, ECR, AWS APIs), and to S3 through a gateway endpoint;
#   data    - RDS and MSK, with no route out of the VPC at all.

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

# The default security group allows nothing, so nothing can use it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "public" {
  count = local.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = local.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 1)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_subnet" "data" {
  count = local.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index + 200)

  tags = { Name = "${local.name}-data-${local.azs[count.index]}", Tier = "data" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_eip" "nat" {
  count = var.single_nat_gateway ? 1 : local.az_count

  domain = "vpc"

  tags       = { Name = "${local.name}-nat-${count.index}" }
  depends_on = [aws_internet_gateway.main]
}

resource "aws_nat_gateway" "main" {
  count = var.single_nat_gateway ? 1 : local.az_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags       = { Name = "${local.name}-${local.azs[count.index]}" }
  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = local.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = local.az_count

  vpc_id = aws_vpc.main.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.main[var.single_nat_gateway ? 0 : count.index].id
  }

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table_association" "private" {
  count = local.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# Only the VPC-local route: RDS and MSK cannot reach or be reached from outside the VPC.
resource "aws_route_table" "data" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-data" }
}

resource "aws_route_table_association" "data" {
  count = local.az_count

  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.data.id
}

# S3 traffic (documents, and the image layers ECR serves from S3) stays on AWS's network and
# skips the NAT gateways' per-GB charge.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = { Name = "${local.name}-s3" }
}

# --- flow logs ------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${local.name}/flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_flow_log" "main" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
    ]
    resources = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

# --- security groups: each allows only what its owner needs ---------------------------------

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Load balancer of the query API"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.api_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from API clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 is open only for the listener that answers every request with a redirect to HTTPS; nothing is served over HTTP.
  for_each = toset(var.api_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from API clients, redirected to HTTPS"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the API tasks"
  referenced_security_group_id = aws_security_group.api.id
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
}

# One security group per deployable, written out (checkov's graph does not follow for_each
# instances from the ECS services to their groups).
resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "ragstream api tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-api" }
}

resource "aws_security_group" "processors" {
  name        = "${local.name}-processors"
  description = "ragstream processors tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-processors" }
}

resource "aws_security_group" "worker" {
  name        = "${local.name}-worker"
  description = "ragstream worker tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-worker" }
}

resource "aws_security_group" "intake" {
  name        = "${local.name}-intake"
  description = "ragstream intake tasks"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-intake" }
}

locals {
  service_security_group_ids = {
    api        = aws_security_group.api.id
    processors = aws_security_group.processors.id
    worker     = aws_security_group.worker.id
    intake     = aws_security_group.intake.id
  }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.api.id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
}

locals {
  # One egress rule per (service, destination): HTTPS for AWS APIs, ECR, OpenAI; Temporal;
  # Qdrant for those that search or write the index; Postgres and Kafka inside the VPC.
  service_egress_cidr = merge(
    { for s in local.service_names :
      "${s}-https" => { service = s, cidr = "0.0.0.0/0", port = 443, what = "HTTPS: AWS APIs, ECR, OpenAI" }
    },
    { for pair in setproduct(tolist(local.service_names), var.temporal_cidrs) :
      "${pair[0]}-temporal-${pair[1]}" => { service = pair[0], cidr = pair[1], port = var.temporal_port, what = "Temporal frontend" }
    },
    { for pair in setproduct([for s in local.service_names : s if local.service_uses_qdrant[s]], var.qdrant_cidrs) :
      "${pair[0]}-qdrant-${pair[1]}" => { service = pair[0], cidr = pair[1], port = var.qdrant_port, what = "Qdrant" }
    },
  )
  service_egress_sg = merge(
    { for s in local.service_names : "${s}-postgres" => { service = s, to = aws_security_group.rds.id, port = 5432, what = "Postgres" } },
    { for s in local.service_names : "${s}-kafka" => { service = s, to = aws_security_group.msk.id, port = 9098, what = "Kafka (TLS, IAM auth)" } },
  )
}

resource "aws_vpc_security_group_egress_rule" "service_cidr" {
  for_each = local.service_egress_cidr

  security_group_id = local.service_security_group_ids[each.value.service]
  description       = each.value.what
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "service_sg" {
  for_each = local.service_egress_sg

  security_group_id            = local.service_security_group_ids[each.value.service]
  description                  = each.value.what
  referenced_security_group_id = each.value.to
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_security_group" "rds" {
  name        = "${local.name}-rds"
  description = "Postgres: reachable from the ragstream tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-rds" }
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_services" {
  for_each = local.service_names

  security_group_id            = aws_security_group.rds.id
  description                  = "Postgres from the ${each.key} tasks"
  referenced_security_group_id = local.service_security_group_ids[each.key]
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "msk" {
  name        = "${local.name}-msk"
  description = "Kafka brokers: TLS with IAM auth, from the ragstream tasks only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-msk" }
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_services" {
  for_each = local.service_names

  security_group_id            = aws_security_group.msk.id
  description                  = "Kafka (TLS, IAM auth) from the ${each.key} tasks"
  referenced_security_group_id = local.service_security_group_ids[each.key]
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}
