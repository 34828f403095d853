-- Launching a Cloud Run job has no idempotency token, and several deliveries (a redelivered
-- training.completed, two reconcile ticks) may try to launch the same row at once. A launch is
-- claimed first: the claim is a lease in the row, taken by one UPDATE, so only its holder calls
-- RunJob. A holder that dies leaves a claim that expires, and the next reconcile launches again.
ALTER TABLE training_runs ADD COLUMN launch_claim_until timestamptz;
ALTER TABLE evaluations ADD COLUMN launch_claim_until timestamptz;
