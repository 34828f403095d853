# Pure derivations from deployables.json (written from shared/deployables.ts by `npm run
# deployables`): no resource is referenced here, only the file and two variables, so
# test/deployables/terraform.test.ts evaluates this file on its own with the real terraform CLI and
# checks the result against the registry:
#   local.functions          -> one Cloud Function each (functions.tf) with its own identity (iam.tf)
#   local.consumers          -> one push subscription per (function, topic it consumes) (pubsub.tf)
#   local.topic_grants       -> publisher on every topic of every message it may publish (iam.tf)
#   local.bucket_grants      -> its object role on each bucket it touches (iam.tf)
#   local.prefix_grants      -> object admin under one prefix of a bucket, nowhere else (iam.tf)
#   local.launcher_grants    -> run-with-overrides + viewer on each job it launches (iam.tf)
#   local.storage_triggers   -> an Eventarc Cloud Storage trigger (eventarc.tf)
#   local.function_env_keys,
#   local.function_secret_keys -> the variables and secrets of its config sections (main.tf)
#   local.jobs               -> one Cloud Run job each (jobs.tf)
#   local.services,
#   local.service_env_keys,
#   local.service_secret_keys -> one Cloud Run service each (services.tf), its own identity (iam.tf)
locals {
  deployables = jsondecode(file("${path.module}/deployables.json"))
  topics      = local.deployables.topics
  functions   = local.deployables.functions
  jobs        = local.deployables.jobs
  services    = local.deployables.services

  # Consumer function => the topics pushed to it.
  consumers = { for name, fn in local.functions : name => fn.subscriptions if length(fn.subscriptions) > 0 }

  # One push subscription per (consumer, topic): "<consumer>--<topic>".
  push_subscriptions = merge([
    for consumer, topics in local.consumers : {
      for topic in topics : "${consumer}--${topic}" => { consumer = consumer, topic = topic }
    }
  ]...)

  storage_triggers = { for name, fn in local.functions : name => fn.storage_trigger if fn.storage_trigger != null }

  # Principal => its registry entry ("fn:<function>", "job:<job>", "svc:<service>"). Services
  # publish nothing.
  principals = merge(
    { for name, fn in local.functions : "fn:${name}" => fn },
    { for name, job in local.jobs : "job:${name}" => job },
    { for name, svc in local.services : "svc:${name}" => merge(svc, { publishes = [] }) },
  )

  bucket_grants = merge([
    for principal, entry in local.principals : {
      for bucket, role in entry.buckets : "${principal}:${bucket}" => { principal = principal, bucket = bucket, role = role }
    }
  ]...)

  # A job that writes only under one prefix of a bucket (the predict job: models/predictions/).
  prefix_grants = merge([
    for name, job in local.jobs : {
      for bucket, prefix in job.writes_under : "job:${name}:${bucket}" => { principal = "job:${name}", bucket = bucket, prefix = prefix }
    }
  ]...)

  # Publisher on every topic of every message type the principal may publish.
  topic_grants = merge([
    for principal, entry in local.principals : {
      for topic in entry.publishes : "${principal}:${topic}" => { principal = principal, topic = topic }
    }
  ]...)

  launcher_grants = merge([
    for job, entry in local.jobs : {
      for fn in entry.launched_by : "${fn}:${job}" => { function = fn, job = job }
    }
  ]...)

  # The variables (plain and secret) of each deployable's config sections for this backend.
  function_env_keys    = { for name, fn in local.functions : name => fn.env[var.annotation_backend] }
  function_secret_keys = { for name, fn in local.functions : name => fn.secrets[var.annotation_backend] }
  job_env_keys         = { for name, job in local.jobs : name => job.env }
  service_env_keys     = { for name, svc in local.services : name => svc.env }
  service_secret_keys  = { for name, svc in local.services : name => svc.secrets }

  # Every variable some deployable reads: loop_settings may name only these.
  known_env = toset(flatten(concat(
    [for fn in local.functions : concat(fn.env["local"], fn.env["encord"], fn.env["labelstudio"])],
    [for job in local.jobs : job.env],
    [for svc in local.services : svc.env],
  )))
}

# A typo in loop_settings would otherwise be dropped silently (no deployable lists it).
resource "terraform_data" "loop_settings_check" {
  input = var.loop_settings

  lifecycle {
    precondition {
      condition     = length(setsubtract(keys(var.loop_settings), local.known_env)) == 0
      error_message = "loop_settings names variables no function, job or service reads: ${join(", ", setsubtract(keys(var.loop_settings), local.known_env))} (see shared/config/sections.ts)."
    }
  }
}
