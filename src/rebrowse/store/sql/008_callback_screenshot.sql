-- Callbacks carry a link to the final screenshot; its bytes (base64) only when the submission asked for them,
-- since a screenshot can show what was typed into the page.
ALTER TABLE tasks ADD COLUMN callback_include_screenshot boolean NOT NULL DEFAULT false;
