-- Counters of events that leave no other trace in the database (a browser restart, say). Workers may run on
-- other machines than the API that serves /metrics, so they add to these rows and the API reads them.
CREATE TABLE metric_counters (
    name        text PRIMARY KEY,
    value       bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
