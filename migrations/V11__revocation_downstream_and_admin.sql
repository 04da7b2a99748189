-- Issue 16: what the APIs behind us and an operator need. An account an operator disabled keeps
-- its data but signs in no more, and every check of a token it holds (the Lambda authorizer,
-- introspection, our own endpoints) answers as for an ended session.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
