import GRDB
import JadeStore

/// The auth module's tables, as forward-only migrations (the master applies the whole
/// ``Schema`` before workers start).
public enum AuthSchema {
    /// Users, credentials, roles, groups and ACLs (v2); blocked addresses (v4).
    public static let migrations: [Migration] = [
        Migration("v2_auth", order: 2) { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        email TEXT UNIQUE COLLATE NOCASE,
                        password_hash TEXT NOT NULL,
                        active INTEGER NOT NULL DEFAULT 1,
                        created_at REAL NOT NULL,
                        password_changed_at REAL NOT NULL,
                        failed_login_count INTEGER NOT NULL DEFAULT 0,
                        locked_until REAL,
                        totp_secret BLOB,
                        totp_enabled INTEGER NOT NULL DEFAULT 0,
                        totp_last_step INTEGER
                    );
                    CREATE TABLE sessions (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        token_hash BLOB NOT NULL UNIQUE,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        last_used_at REAL NOT NULL,
                        ip TEXT
                    );
                    CREATE INDEX sessions_user ON sessions(user_id);
                    CREATE TABLE api_keys (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        key_hash BLOB NOT NULL UNIQUE,
                        permissions TEXT,
                        created_at REAL NOT NULL,
                        expires_at REAL,
                        revoked_at REAL,
                        last_used_at REAL
                    );
                    CREATE INDEX api_keys_user ON api_keys(user_id);
                    CREATE TABLE password_reset_tokens (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        token_hash BLOB NOT NULL UNIQUE,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        used_at REAL
                    );
                    CREATE TABLE roles (
                        name TEXT PRIMARY KEY NOT NULL,
                        builtin INTEGER NOT NULL DEFAULT 0,
                        description TEXT NOT NULL DEFAULT ''
                    );
                    CREATE TABLE role_permissions (
                        role TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
                        permission TEXT NOT NULL,
                        database TEXT NOT NULL DEFAULT '',
                        PRIMARY KEY (role, permission, database)
                    );
                    CREATE TABLE user_roles (
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        role TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
                        PRIMARY KEY (user_id, role)
                    );
                    CREATE TABLE groups (
                        name TEXT PRIMARY KEY NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE group_members (
                        group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
                        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        PRIMARY KEY (group_name, user_id)
                    );
                    CREATE INDEX group_members_user ON group_members(user_id);
                    CREATE TABLE acl_entries (
                        database TEXT NOT NULL,
                        principal_type TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
                        principal TEXT NOT NULL,
                        permission TEXT NOT NULL,
                        PRIMARY KEY (database, principal_type, principal, permission)
                    );
                    CREATE INDEX acl_principal ON acl_entries(principal_type, principal);
                    INSERT INTO roles (name, builtin, description) VALUES
                        ('admin', 1, 'Everything'),
                        ('editor', 1, 'Create databases; read and write every database'),
                        ('viewer', 1, 'Read every database');
                    INSERT INTO role_permissions (role, permission) VALUES
                        ('admin', 'admin'),
                        ('editor', 'databases:create'), ('editor', 'database:read'), ('editor', 'database:write'),
                        ('viewer', 'database:read');
                    INSERT INTO schema_meta (key, value) VALUES ('auth_epoch', '0');
                    """)
        },
        Migration("v4_ip_blocks", order: 4) { db in
            try db.execute(
                sql: """
                    CREATE TABLE ip_blocks (
                        ip TEXT PRIMARY KEY NOT NULL,
                        until REAL NOT NULL,
                        reason TEXT NOT NULL,
                        created_by TEXT NOT NULL,
                        created_at REAL NOT NULL
                    );
                    """)
        },
    ]
}
