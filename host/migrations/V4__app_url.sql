-- An app's main page: what the studio opens once its installation is
-- COMPLETED (the setup page while it is PENDING). Apps made before it have
-- none, and open their setup page.
ALTER TABLE apps ADD COLUMN url TEXT;
