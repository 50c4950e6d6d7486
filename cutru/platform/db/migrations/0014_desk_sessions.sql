-- The web desk's sign-ins and sessions (cutru/api/desk/sessions.py). Neither table holds a usable secret: a session
-- is found by the SHA-256 of the id in the browser's cookie, a sign-in by the SHA-256 of its OAuth state; a copy of
-- the table cannot be replayed as a cookie.

-- A sign-in under way: the PKCE verifier the authorization code is redeemed with, and where to go afterwards.
-- Used once (deleted when the provider calls back), and worthless after ten minutes.
CREATE TABLE desk_sign_ins (
    state_sha256   bytea PRIMARY KEY CHECK (length(state_sha256) = 32),
    code_verifier  text NOT NULL,
    return_to      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX desk_sign_ins_created ON desk_sign_ins (created_at);

-- A signed-in officer: who the verified token said they are (the principal, as JSON), the form token that every
-- POST must carry, and the two expiries: idle (pushed forward by each request) and absolute (fixed at sign-in).
CREATE TABLE desk_sessions (
    session_sha256  bytea PRIMARY KEY CHECK (length(session_sha256) = 32),
    principal       jsonb NOT NULL,
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX desk_sessions_expires ON desk_sessions (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON desk_sign_ins, desk_sessions TO cutru_api;
