"""Who may do what, enforced by the NATS server (docs/architecture.md "Trust").

Roles are NATS accounts. Only the services (and `admin`, who manages the stream and bucket)
live in the JetStream account `SERVICES`; the people's accounts (`OPERATOR`, `APPROVER`,
`LEADER`, `MONITOR`, `WALL`) have no JetStream at all and import exactly the subjects their
role may use. Each identity is an nkey user; its credentials file is the nkey seed.

- `roles`: the accounts, each role's permissions and imports, and the nats-server config
  they make (pure: a function of the public keys and the subject prefix);
- `registry`: `identities.json`, the public half of every identity (name ↔ nkey ↔ role),
  read by the services to name the person the server authenticated;
- `keys`, `certs`: nkeys and TLS certificates, written as secret files;
- `folder`: `watchboard auth init|add-person|revoke` on an auth folder;
- `cli`: those commands as people type them.
"""
