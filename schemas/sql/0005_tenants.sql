-- Tenants and groups: who may see a document (its key's tenant, its groups) and whose a
-- conversation is (a tenant's user). Rows from before belong to the default tenant.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE documents ADD COLUMN IF NOT EXISTS groups TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS documents_tenant_uploaded_idx ON documents (tenant_id, uploaded_at DESC, id);

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS user_id TEXT NOT NULL DEFAULT 'anonymous';
CREATE INDEX IF NOT EXISTS conversations_owner_idx ON conversations (tenant_id, user_id, updated_at DESC);
