-- Slack threading: every notification about one run (threadKey) goes into the thread started by
-- the first one. The key is ours (e.g. `run:<id>`); `thread_ts` is the Slack timestamp of the
-- thread's parent message, which `chat.postMessage` needs to reply in that thread.
CREATE TABLE slack_threads (
  thread_key  text PRIMARY KEY,
  channel     text NOT NULL,
  thread_ts   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
