//! The portable schema: one DDL for SQLite and PostgreSQL.
//!
//! Portable types only (TEXT, BIGINT): timestamps are UTC microseconds since the epoch, JSON is
//! TEXT, addresses are TEXT plus a sortable key. Migrations are append-only: never edit a shipped
//! step, add a new one.

/// `(version, statements)`; each statement runs on its own.
pub const MIGRATIONS: &[(i64, &[&str])] = &[
    (
    1,
    &[
        "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS requests (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            domain TEXT NOT NULL,
            official_nip TEXT NOT NULL,
            submitted_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            sla_due_at BIGINT,
            form_json TEXT NOT NULL,
            approval_json TEXT,
            hardware_json TEXT,
            revocation_json TEXT,
            capacity_json TEXT,
            version BIGINT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS requests_state ON requests (state, id)",
        "CREATE INDEX IF NOT EXISTS requests_unit ON requests (unit_name, id)",
        "CREATE INDEX IF NOT EXISTS requests_due ON requests (sla_due_at)",
        "CREATE INDEX IF NOT EXISTS requests_nip ON requests (official_nip)",
        "CREATE TABLE IF NOT EXISTS request_events (
            request_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            event TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            at BIGINT NOT NULL,
            reason TEXT,
            PRIMARY KEY (request_id, seq)
        )",
        "CREATE TABLE IF NOT EXISTS audit (
            seq BIGINT PRIMARY KEY,
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT NOT NULL,
            request_id TEXT,
            action TEXT NOT NULL,
            reason TEXT,
            before_json TEXT,
            after_json TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS audit_request ON audit (request_id, seq)",
        "CREATE TABLE IF NOT EXISTS audit_head (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)",
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis') ON CONFLICT DO NOTHING",
        "CREATE TABLE IF NOT EXISTS rack_units (
            noc TEXT NOT NULL,
            rack TEXT NOT NULL,
            u BIGINT NOT NULL,
            request_id TEXT NOT NULL,
            PRIMARY KEY (noc, rack, u)
        )",
        "CREATE TABLE IF NOT EXISTS placements (
            request_id TEXT NOT NULL,
            server TEXT NOT NULL,
            noc TEXT NOT NULL,
            rack TEXT NOT NULL,
            from_u BIGINT NOT NULL,
            to_u BIGINT NOT NULL,
            power_w BIGINT NOT NULL,
            status TEXT NOT NULL,
            reserved_at BIGINT NOT NULL,
            released_at BIGINT,
            PRIMARY KEY (request_id, server)
        )",
        "CREATE TABLE IF NOT EXISTS reservations (
            request_id TEXT PRIMARY KEY,
            noc TEXT NOT NULL,
            bandwidth_mbps BIGINT NOT NULL,
            cpu_cores BIGINT NOT NULL,
            ram_gb BIGINT NOT NULL,
            storage_gb BIGINT NOT NULL,
            status TEXT NOT NULL,
            reserved_at BIGINT NOT NULL,
            released_at BIGINT
        )",
        "CREATE INDEX IF NOT EXISTS reservations_status ON reservations (status, noc)",
    ],
),
    (
        2,
        &[
            "CREATE TABLE IF NOT EXISTS ip_pools (
                name TEXT PRIMARY KEY,
                noc TEXT NOT NULL,
                vlan BIGINT NOT NULL,
                family BIGINT NOT NULL,
                cidr TEXT NOT NULL,
                spec_json TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )",
            "CREATE TABLE IF NOT EXISTS ip_free (
                pool TEXT NOT NULL,
                from_off BIGINT NOT NULL,
                to_off BIGINT NOT NULL,
                PRIMARY KEY (pool, from_off)
            )",
            "CREATE INDEX IF NOT EXISTS ip_free_to ON ip_free (pool, to_off)",
            "CREATE TABLE IF NOT EXISTS ip_allocations (
                id TEXT PRIMARY KEY,
                pool TEXT NOT NULL,
                off BIGINT NOT NULL,
                address TEXT NOT NULL,
                request_id TEXT NOT NULL,
                purpose TEXT NOT NULL,
                allocated_at BIGINT NOT NULL,
                allocated_by TEXT NOT NULL,
                released_at BIGINT,
                released_by TEXT
            )",
            "CREATE UNIQUE INDEX IF NOT EXISTS ip_alloc_active ON ip_allocations (pool, off) WHERE released_at IS NULL",
            "CREATE UNIQUE INDEX IF NOT EXISTS ip_alloc_owner ON ip_allocations (request_id, purpose) WHERE released_at IS NULL",
            "CREATE INDEX IF NOT EXISTS ip_alloc_request ON ip_allocations (request_id)",
        ],
    ),
    (
        3,
        &[
            "CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY,
                request_id TEXT NOT NULL,
                playbook TEXT NOT NULL,
                definition_json TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT
            )",
            "CREATE UNIQUE INDEX IF NOT EXISTS runs_request_playbook ON runs (request_id, playbook)",
            "CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created_at)",
            "CREATE TABLE IF NOT EXISTS run_events (
                run_id TEXT NOT NULL,
                step_index BIGINT NOT NULL,
                attempt BIGINT NOT NULL,
                event TEXT NOT NULL,
                seq BIGINT NOT NULL,
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                output_json TEXT,
                error TEXT,
                reason TEXT,
                PRIMARY KEY (run_id, step_index, attempt, event)
            )",
        ],
    ),
    (4, &["CREATE INDEX IF NOT EXISTS requests_state_unit ON requests (state, unit_name, id)"]),
    (
        5,
        &["CREATE TABLE IF NOT EXISTS secrets (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            sealed TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            updated_by TEXT NOT NULL
        )"],
    ),
    (
        6,
        &[
            // Asset register (src/store/assets.rs): one row per co-located server from its
            // handover on; withdrawn rows stay. Reviews at least yearly.
            "CREATE TABLE IF NOT EXISTS assets (
                id TEXT PRIMARY KEY,
                request_id TEXT NOT NULL,
                server TEXT NOT NULL,
                serial_number TEXT,
                type_brand TEXT,
                spec_json TEXT NOT NULL,
                unit_name TEXT NOT NULL,
                official_name TEXT NOT NULL,
                official_nip TEXT NOT NULL,
                noc TEXT,
                rack TEXT,
                from_u BIGINT,
                to_u BIGINT,
                ipv4 TEXT,
                ipv6 TEXT,
                domain TEXT NOT NULL,
                installed_at BIGINT NOT NULL,
                status TEXT NOT NULL,
                withdrawn_at BIGINT,
                last_review_at BIGINT,
                review_due_at BIGINT NOT NULL
            )",
            "CREATE UNIQUE INDEX IF NOT EXISTS assets_request_server ON assets (request_id, server)",
            "CREATE INDEX IF NOT EXISTS assets_due ON assets (status, review_due_at)",
            "CREATE TABLE IF NOT EXISTS asset_reviews (
                asset_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                at BIGINT NOT NULL,
                reviewer TEXT NOT NULL,
                role TEXT NOT NULL,
                findings TEXT NOT NULL,
                PRIMARY KEY (asset_id, seq)
            )",
        ],
    ),
    (
        7,
        &[
            // Notifications outbox (src/notify/outbox.rs): one row per notice and channel.
            "CREATE TABLE IF NOT EXISTS notifications (
                request_id TEXT NOT NULL,
                event TEXT NOT NULL,
                channel TEXT NOT NULL,
                status TEXT NOT NULL,
                message_id TEXT NOT NULL,
                recipients_json TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                sent_at BIGINT,
                detail TEXT,
                PRIMARY KEY (request_id, event, channel)
            )",
        ],
    ),
    (
        8,
        &[
            // People who sign in (src/store/users.rs). The password hash is an argon2id PHC
            // string; NULL means the account signs in only with API tokens.
            "CREATE TABLE IF NOT EXISTS users (
                username TEXT PRIMARY KEY,
                display_name TEXT NOT NULL,
                role TEXT NOT NULL,
                unit TEXT,
                password_hash TEXT,
                disabled BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )",
            // API tokens: only the SHA-256 of the token is kept (src/auth/tokens.rs says why
            // not argon2).
            "CREATE TABLE IF NOT EXISTS api_tokens (
                id TEXT PRIMARY KEY,
                token_hash TEXT NOT NULL,
                username TEXT NOT NULL,
                read_only BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                created_by TEXT NOT NULL,
                revoked_at BIGINT,
                last_used_at BIGINT
            )",
            "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_hash ON api_tokens (token_hash)",
            "CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens (username, created_at)",
            // Privacy exports find the audit rows of one kind (privacy.*, auth.*) quickly.
            "CREATE INDEX IF NOT EXISTS audit_action ON audit (action, seq)",
        ],
    ),
    (
        11,
        &[
            // Console sign-in sessions: only the SHA-256 of the cookie's token is kept.
            "CREATE TABLE IF NOT EXISTS console_sessions (
                token_hash TEXT PRIMARY KEY,
                username TEXT NOT NULL,
                role TEXT NOT NULL,
                unit TEXT,
                csrf_token TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS console_sessions_expiry ON console_sessions (expires_at)",
        ],
    ),
    (
        12,
        &[
            // Failed sign-in budgets shared by every replica on one database (token buckets:
            // `tokens` left at `at_ms`, refilled by time). Keys are `addr:…` and `user:…`.
            "CREATE TABLE IF NOT EXISTS auth_limits (
                key TEXT PRIMARY KEY,
                tokens DOUBLE PRECISION NOT NULL,
                at_ms BIGINT NOT NULL
            )",
        ],
    ),
    (
        17,
        &[
            // Drift check (src/drift): the latest result per live request, every result in
            // order, and the drifts an operator accepted (with the value found then).
            "CREATE TABLE IF NOT EXISTS drift_results (
                request_id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                checked_at BIGINT NOT NULL,
                report_json TEXT NOT NULL,
                drifted_since BIGINT,
                episode BIGINT NOT NULL,
                notified_episode BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS drift_results_status ON drift_results (status)",
            "CREATE TABLE IF NOT EXISTS drift_history (
                request_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                checked_at BIGINT NOT NULL,
                status TEXT NOT NULL,
                drifted BIGINT NOT NULL,
                report_json TEXT NOT NULL,
                PRIMARY KEY (request_id, seq)
            )",
            "CREATE TABLE IF NOT EXISTS drift_accepted (
                request_id TEXT NOT NULL,
                item TEXT NOT NULL,
                found_json TEXT NOT NULL,
                reason TEXT NOT NULL,
                actor TEXT NOT NULL,
                accepted_at BIGINT NOT NULL,
                PRIMARY KEY (request_id, item)
            )",
        ],
    ),
    (
        // 18: main holds 12 (auth_limits) and 17 (drift) already.
        18,
        &[
            // Domain ownership (src/store/claims.rs): one active claim per name, from submission
            // until the request reaches a final state (the claim is closed in that transaction).
            "CREATE TABLE IF NOT EXISTS domain_claims (
                name TEXT NOT NULL,
                request_id TEXT NOT NULL,
                source TEXT NOT NULL,
                claimed_at BIGINT NOT NULL,
                released_at BIGINT
            )",
            "CREATE UNIQUE INDEX IF NOT EXISTS domain_claims_active ON domain_claims (name) WHERE released_at IS NULL",
            "CREATE INDEX IF NOT EXISTS domain_claims_request ON domain_claims (request_id)",
            // An admin's explicit leave for a zone apex or a name outside the configured zones.
            "CREATE TABLE IF NOT EXISTS name_allowances (
                request_id TEXT NOT NULL,
                name TEXT NOT NULL,
                allowed_by TEXT NOT NULL,
                reason TEXT NOT NULL,
                allowed_at BIGINT NOT NULL,
                PRIMARY KEY (request_id, name)
            )",
            // Records found in DNS that an admin let a request take over (used once).
            "CREATE TABLE IF NOT EXISTS record_adoptions (
                request_id TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                adopted_by TEXT NOT NULL,
                reason TEXT NOT NULL,
                adopted_at BIGINT NOT NULL,
                used_at BIGINT,
                PRIMARY KEY (request_id, name, kind)
            )",
            // What kolokasi last wrote into each rrset, per provider: the values a conditional
            // update or delete expects to find.
            "CREATE TABLE IF NOT EXISTS dns_record_owners (
                provider TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                request_id TEXT NOT NULL,
                values_json TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (provider, name, kind)
            )",
            "CREATE INDEX IF NOT EXISTS dns_record_owners_request ON dns_record_owners (request_id)",
        ],
    ),
    (
        19,
        &[
            // Audit chain v2 (see store::audit): rows keep v1 as they were; new rows carry a
            // content digest, a MAC of their link hash and the id of the key that made it.
            "ALTER TABLE audit ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE audit ADD COLUMN digest TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE audit ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE audit ADD COLUMN key_id TEXT NOT NULL DEFAULT ''",
            // The audit chain's HMAC and checkpoint keys, sealed under the master key.
            "CREATE TABLE IF NOT EXISTS audit_keys (
                key_id TEXT PRIMARY KEY,
                purpose TEXT NOT NULL,
                sealed TEXT NOT NULL,
                public_key TEXT,
                first_seq BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                retired_at BIGINT
            )",
        ],
    ),
    (
        // 20: 19 is the keyed audit chain's (branch audit-keyed).
        20,
        &[
            // Device read-backs (src/drift/readback.rs) taken when a provisioning or a
            // decommission run succeeds: what each device held of the request's items then.
            // One per completion (`run_seq`: the run's last log event), kept for the evidence bundle.
            "CREATE TABLE IF NOT EXISTS run_readbacks (
                run_id TEXT NOT NULL,
                run_seq BIGINT NOT NULL,
                request_id TEXT NOT NULL,
                phase TEXT NOT NULL,
                taken_at BIGINT NOT NULL,
                snapshot_json TEXT NOT NULL,
                PRIMARY KEY (run_id, run_seq)
            )",
            "CREATE INDEX IF NOT EXISTS run_readbacks_request ON run_readbacks (request_id)",
        ],
    ),
    (
        // 23 (branch ldap; 21 and 22 are left to the other branches of this round).
        23,
        &[
            // Where a user's sign-in is checked (src/store/users.rs, UserSource): `local`
            // (password hash or tokens) or `directory` (the office's LDAP; no hash kept).
            "ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'",
        ],
    ),
];
