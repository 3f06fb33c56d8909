-- The person a token acts for: a frame's SESSION token opened by someone
-- signed in to the studio, and the user-bound token an app's backend gets
-- for it by token exchange. NULL for every other token.
ALTER TABLE tokens ADD COLUMN user_id TEXT;
