//! The token model: every minted token, token family and agent session of one
//! fake, what each token grants, and the rules of minting, rotating, revoking
//! and checking tokens. Instants are the fake clock's, passed in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use super::answer::{Answer, error, not_found, token_expired, unauthorized};
use super::ids::fake_uuid;
use super::jwt::{hash_hex, jwt};
use crate::time::format_rfc3339;

/// The lifetime of a token minted without `ttlSeconds`.
const DEFAULT_TTL: u64 = 3600;
/// The scopes of a token minted without `scopes`.
const DEFAULT_SCOPES: [&str; 1] = ["agent-runtime"];

/// Numbers every minted token in the process, so tokens of different fakes differ too.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// What a token allows; a rotation hands it on to the new token.
#[derive(Clone)]
pub(super) struct Grant {
    pub external_app_id: String,
    pub deployment_id: String,
    pub unique_id: Option<String>,
    pub quota_policy_id: Option<String>,
    pub scopes: Vec<String>,
    /// Seconds.
    pub ttl: u64,
    pub max_uses: Option<u64>,
}

impl Grant {
    /// The defaults: scopes `["agent-runtime"]`, an hour, no cap on uses.
    pub fn new(external_app_id: &str, deployment_id: String) -> Grant {
        Grant {
            external_app_id: external_app_id.to_owned(),
            deployment_id,
            unique_id: None,
            quota_policy_id: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            ttl: DEFAULT_TTL,
            max_uses: None,
        }
    }
}

/// A rotation for a unique id: `.../external-apps/{app}/runtime-tokens/rotate`.
pub(super) struct UniqueRotation {
    pub external_app_id: String,
    pub deployment_id: String,
    pub unique_id: String,
    pub quota_policy_id: Option<String>,
    pub token_family_id: Option<String>,
}

struct Minted {
    family: String,
    /// Position in its family, from 0.
    serial: u64,
    /// Unix seconds; the token is expired from this instant on.
    expires_at: u64,
    uses: u64,
    grant: Grant,
}

struct Family {
    external_app_id: String,
    unique_id: Option<String>,
    agent_session_id: String,
    revoked_at: Option<u64>,
    /// Tokens of a lower serial were retired by a rotation.
    valid_from: u64,
    next_serial: u64,
    /// The grant of the family's latest token.
    last_grant: Option<Grant>,
}

/// Every minted token, family and session of one fake.
#[derive(Default)]
pub(super) struct Ledger {
    /// Every token minted, in order.
    pub minted: Vec<String>,
    tokens: HashMap<String, Minted>,
    families: HashMap<String, Family>,
    /// `(externalAppId, uniqueId)` to the family it last minted in.
    latest_family: HashMap<(String, String), String>,
    /// `(externalAppId, uniqueId)` to its agent session.
    sessions: HashMap<(String, String), String>,
    ids: u64,
}

fn family_revoked(id: &str) -> Answer {
    error(
        409,
        "TOKEN_FAMILY_REVOKED",
        format!("Token family {id} was revoked."),
    )
}

impl Ledger {
    fn next_id(&mut self) -> u64 {
        self.ids += 1;
        self.ids
    }

    /// Checks a bearer token that is not the fixed one, on a runtime request,
    /// and counts the use when it is accepted.
    pub fn check(&mut self, token: &str, now: Duration) -> Result<(), Answer> {
        let Some(minted) = self.tokens.get_mut(token) else {
            return Err(unauthorized("Missing or invalid runtime token."));
        };
        if now >= Duration::from_secs(minted.expires_at) {
            return Err(token_expired());
        }
        let family = &self.families[&minted.family];
        if family.revoked_at.is_some() {
            return Err(unauthorized("The runtime token's family was revoked."));
        }
        if minted.serial < family.valid_from {
            return Err(unauthorized("The runtime token was rotated."));
        }
        if let Some(max) = minted.grant.max_uses {
            if minted.uses >= max {
                return Err(error(
                    403,
                    "MANAGED_AGENT_RUNTIME_TOKEN_GRANT_MAX_USES_EXCEEDED",
                    format!("The runtime token's grant allows {max} use(s); all are used."),
                ));
            }
        }
        minted.uses += 1;
        Ok(())
    }

    /// Starts a family and returns its id.
    fn new_family(&mut self, id: Option<String>, app: &str, unique_id: Option<&str>) -> String {
        let n = self.next_id();
        let id = id.unwrap_or_else(|| fake_uuid(0x7a0b_0010, n));
        let agent_session_id = match unique_id {
            Some(unique) => self
                .sessions
                .entry((app.to_owned(), unique.to_owned()))
                .or_insert_with(|| fake_uuid(0x7a0b_0012, n))
                .clone(),
            None => fake_uuid(0x7a0b_0012, n),
        };
        let family = Family {
            external_app_id: app.to_owned(),
            unique_id: unique_id.map(str::to_owned),
            agent_session_id,
            revoked_at: None,
            valid_from: 0,
            next_serial: 0,
            last_grant: None,
        };
        self.families.insert(id.clone(), family);
        id
    }

    /// Mints a token of `grant` in the existing family `family_id`, and
    /// returns the mint answer's body; a rotation retires the family's
    /// earlier tokens.
    fn mint(&mut self, family_id: &str, grant: Grant, rotation: bool, now: Duration) -> Value {
        let grant_id = fake_uuid(0x7a0b_0011, self.next_id());
        let number = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let family = self
            .families
            .get_mut(family_id)
            .expect("minting in a known family");
        let serial = family.next_serial;
        family.next_serial += 1;
        if rotation {
            family.valid_from = serial;
        }
        let issued_at = now.as_secs();
        let expires_at = issued_at + grant.ttl;
        let token = jwt(&json!({
            "iss": "zaby-fake",
            "aud": "agent-runtime",
            "sub": grant.unique_id.as_deref().unwrap_or("anonymous"),
            "fam": family_id,
            "gid": grant_id,
            "iat": issued_at,
            "exp": expires_at,
            "jti": format!("fake-token-{number}"),
        }));
        let mut answer = json!({
            "token": token,
            "tokenType": "Bearer",
            "expiresAt": format_rfc3339(expires_at),
            "scopes": grant.scopes,
            "grantId": grant_id,
            "tokenFamilyId": family_id,
            "rotateAfterSeconds": grant.ttl * 4 / 5,
            "agentSessionId": family.agent_session_id,
            "externalAppId": grant.external_app_id,
            "deploymentId": grant.deployment_id,
        });
        if let Some(quota) = &grant.quota_policy_id {
            answer["quotaPolicyId"] = json!(quota);
        }
        if let Some(unique) = &grant.unique_id {
            answer["uniqueIdHash"] = json!(hash_hex(unique));
        }
        if let Some(max) = grant.max_uses {
            answer["remainingUses"] = json!(max);
        }
        self.tokens.insert(
            token.clone(),
            Minted {
                family: family_id.to_owned(),
                serial,
                expires_at,
                uses: 0,
                grant: grant.clone(),
            },
        );
        family.last_grant = Some(grant);
        self.minted.push(token);
        answer
    }

    /// Mints a token of `grant`: into `family_id` when given (a known family,
    /// unless revoked, or a new one under that id), else into a new family.
    pub fn create(
        &mut self,
        grant: Grant,
        family_id: Option<String>,
        now: Duration,
    ) -> Result<Value, Answer> {
        let app = grant.external_app_id.clone();
        let unique_id = grant.unique_id.as_deref();
        let family_id = match family_id {
            Some(id) => match self.families.get(&id) {
                Some(family) if family.revoked_at.is_some() => return Err(family_revoked(&id)),
                Some(_) => id,
                None => self.new_family(Some(id), &app, unique_id),
            },
            None => self.new_family(None, &app, unique_id),
        };
        if let Some(unique) = &grant.unique_id {
            self.latest_family
                .insert((app, unique.clone()), family_id.clone());
        }
        Ok(self.mint(&family_id, grant, false, now))
    }

    /// Trades `previous` (expired or used up, but neither rotated nor
    /// revoked) for a token of the same family and grant.
    pub fn rotate(&mut self, previous: &str, now: Duration) -> Result<Value, Answer> {
        let Some(old) = self.tokens.get(previous) else {
            return Err(unauthorized("The previous runtime token is unknown."));
        };
        let family = &self.families[&old.family];
        if family.revoked_at.is_some() {
            return Err(unauthorized(
                "The previous runtime token's family was revoked.",
            ));
        }
        if old.serial < family.valid_from {
            return Err(unauthorized(
                "The previous runtime token was already rotated.",
            ));
        }
        let (family_id, grant) = (old.family.clone(), old.grant.clone());
        Ok(self.mint(&family_id, grant, true, now))
    }

    /// Mints a token for a unique id: in the given family, else the one it
    /// last minted in, else a new one; with the family's latest grant.
    pub fn rotate_unique(&mut self, call: UniqueRotation, now: Duration) -> Result<Value, Answer> {
        let app = call.external_app_id.as_str();
        let key = (app.to_owned(), call.unique_id.clone());
        let family_id = match call.token_family_id {
            Some(id) => match self.families.get(&id) {
                None => return Err(not_found(format!("Token family {id} not found."))),
                Some(family)
                    if family.external_app_id != app
                        || family.unique_id.as_deref() != Some(call.unique_id.as_str()) =>
                {
                    return Err(not_found(format!(
                        "Token family {id} not found for this unique id."
                    )));
                }
                Some(family) if family.revoked_at.is_some() => return Err(family_revoked(&id)),
                Some(_) => id,
            },
            None => match self
                .latest_family
                .get(&key)
                .filter(|id| self.families[*id].revoked_at.is_none())
            {
                Some(id) => id.clone(),
                None => self.new_family(None, app, Some(&call.unique_id)),
            },
        };
        self.latest_family.insert(key, family_id.clone());
        let last = self.families[&family_id].last_grant.clone();
        let mut grant = last.unwrap_or_else(|| Grant::new(app, String::new()));
        grant.deployment_id = call.deployment_id;
        grant.unique_id = Some(call.unique_id);
        if call.quota_policy_id.is_some() {
            grant.quota_policy_id = call.quota_policy_id;
        }
        Ok(self.mint(&family_id, grant, true, now))
    }

    /// Revokes a family: `{"tokenFamilyId", "revokedAt"}`, the first
    /// `revokedAt` when revoked before.
    pub fn revoke(&mut self, family_id: &str, now: Duration) -> Result<Value, Answer> {
        let Some(family) = self.families.get_mut(family_id) else {
            return Err(not_found(format!("Token family {family_id} not found.")));
        };
        // Revoking again is harmless and keeps the first instant.
        let revoked_at = *family.revoked_at.get_or_insert(now.as_secs());
        Ok(json!({"tokenFamilyId": family_id, "revokedAt": format_rfc3339(revoked_at)}))
    }
}
