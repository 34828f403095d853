-- Launch back-off for training runs and evaluations. A launch that fails transiently (UNAVAILABLE,
-- 429, 5xx) leaves the row `launching`; reconcile tries again once `next_launch_at` has passed,
-- doubling the wait each time, and gives up (failed + alert) after a bounded number of failures.
-- A launch refused for good (permission denied, job not deployed, quota) fails the row at once.
ALTER TABLE training_runs ADD COLUMN launch_failures integer NOT NULL DEFAULT 0;
ALTER TABLE training_runs ADD COLUMN next_launch_at timestamptz;
ALTER TABLE evaluations ADD COLUMN launch_failures integer NOT NULL DEFAULT 0;
ALTER TABLE evaluations ADD COLUMN next_launch_at timestamptz;
