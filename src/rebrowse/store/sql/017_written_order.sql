-- An automation's definition as its author wrote it: jsonb reorders object keys (shortest first, then by bytes), json
-- keeps the text, so the API, the JSON view and the run form follow the written order. No SQL looks into the
-- definition; rows stored before keep jsonb's order, which is the only one they still have.
ALTER TABLE automations ALTER COLUMN definition TYPE json USING definition::json;
