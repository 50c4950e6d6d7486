-- Operators re-send what the outbox could not deliver (issue 23, cutru/api/notifications.py).

-- The operators' list of given-up messages, oldest first, without reading every message ever sent.
CREATE INDEX notifications_failed ON notifications (created_at) WHERE status = 'failed';

-- A re-queue puts a failed message back to pending, or a refused shipment due at once, its attempts afresh.
GRANT UPDATE (status, attempts, next_attempt_at) ON notifications TO cutru_api;
GRANT UPDATE (attempts, next_attempt_at, last_error, updated_at) ON shipments TO cutru_api;
