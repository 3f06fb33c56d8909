-- App elements: the pages, sidebar panels and field editors an app puts
-- into the platform (JSON list; NULL: none).
ALTER TABLE apps ADD COLUMN elements TEXT;
-- The elements an installation has turned off in its environment (JSON
-- list of apiIds; NULL: none).
ALTER TABLE installations ADD COLUMN disabled_elements TEXT;
