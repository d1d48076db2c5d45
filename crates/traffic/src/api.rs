//! The `api-{role}` components: the regional REST API of one region.
//!
//! CreateRestApi (REGIONAL, tags) → GetResources (root) → CreateResource `health`, `items`,
//! `items/{id}` → PutMethod (GET /health with no key; GET, PUT, DELETE /items/{id} with
//! `apiKeyRequired`, GET without it when `[api] public_reads`) → PutIntegration (AWS_PROXY,
//! POST, the region's API Lambda) → Lambda AddPermission (principal
//! apigateway.amazonaws.com, SourceArn limited to this API) → CreateDeployment to the stage
//! → the API key: the SecureString `api-key` of `parameters` (read in this region at apply
//! time, compared, never journaled, logged or put in outputs) as API key `api-key-{role}-{s}`
//! → usage plan `usage-plan-{role}-{s}` on the stage, throttled (`[api]
//! throttle_rate_limit` / `throttle_burst_limit`) → the key attached to the plan → when the
//! region has a custom domain: CreateDomainName (REGIONAL, TLS 1.2, the regional
//! ACM certificate) → CreateBasePathMapping → when `dns.record_name` is set too: the same
//! for a custom domain named `dns.record_name` (the failover domain). Each step first
//! checks what exists, so a second apply makes no change, and an interrupted one resumes.
//!
//! Why two custom domains per region: API Gateway routes a request to a custom domain by
//! its Host header. The regional domain (`api.<role>_domain`) serves direct regional access
//! and the regional health check. The Route 53 failover records are named
//! `dns.record_name`, so a client that resolves them reaches the regional endpoint with
//! `Host: <record_name>`; unless a custom domain of that name exists in that region (with a
//! certificate covering it and a base path mapping to the API), API Gateway answers 403
//! Forbidden and failover serves nothing. This is AWS's multi-region API Gateway pattern:
//! the same custom domain name in both regions, each with its regional certificate, and
//! the failover records aliasing each region's `regionalDomainName`/`regionalHostedZoneId`
//! of that domain. The requested certificate covers the name as a SubjectAlternativeName
//! (see `certificate`); a configured certificate ARN is checked (DescribeCertificate) to
//! cover it, exactly or by wildcard, before anything is created.
//!
//! API Gateway's control plane has low account-wide rate limits (CreateRestApi 1/3 s,
//! CreateDeployment 1/5 s, domain names 1/30 s): TooManyRequestsException is retried with
//! a longer backoff ([`retry_rate_limited`]).
//!
//! API keys: `/health` stays open (Route 53, the NLB's target group and the failover probe
//! call it). An API key whose value is no longer the parameter's (rotated) is detached and
//! deleted, then created anew (API Gateway cannot change a key's value). A method whose
//! `apiKeyRequired` differs is deleted and put again (PutMethod cannot change one). The
//! `ANY /{proxy+}` route of earlier versions (no key) is deleted.
//!
//! Destroy: usage plan key → usage plan (its stages removed first) → API key → failover
//! domain (base path mapping → domain) → regional domain (base path mapping → domain) → API
//! → Lambda permission. NotFound is success.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{backoff_delay, none_if_not_found, retry, RetryPolicy};
use tandem_core::contracts::{ids, ApiOutputs, CertificateOutputs, FunctionsOutputs, ParametersOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule};
use tracing::Instrument;

use crate::acm_api::AcmApi;
use crate::apigw_api::{ApiGatewayApi, ApiKeyInfo, DomainInfo, MethodInfo, Patch, ResourceInfo, RestApiInfo, UsagePlanInfo, UsagePlanSpec};
use tandem_data::ssm::{ParamKind, SsmApi};
use crate::certificate::{certificate_covers, CertificateComponent};
use crate::common::has_stack_tag;
use tandem_clients::lambda::{policy_has_sid, LambdaApi};
use crate::route53_api::dns_eq;

/// The resources of the API: (path part, full path, parent path), parents first.
pub const RESOURCES: [(&str, &str, &str); 3] = [("health", "/health", "/"), ("items", "/items", "/"), ("{id}", "/items/{id}", "/items")];
/// The methods of the API: (full path, HTTP method).
pub const METHODS: [(&str, &str); 4] = [("/health", "GET"), ("/items/{id}", "GET"), ("/items/{id}", "PUT"), ("/items/{id}", "DELETE")];
/// The one path served without the API key.
pub const HEALTH_PATH: &str = "/health";
/// Resources of earlier versions that apply removes: `ANY /{proxy+}` served everything
/// without a key.
const RETIRED_RESOURCES: [(&str, &str); 1] = [("/{proxy+}", "ANY")];
/// The principal allowed to invoke the function.
pub const APIGATEWAY_PRINCIPAL: &str = "apigateway.amazonaws.com";
/// The root base path of a custom domain.
pub const ROOT_BASE_PATH: &str = "(none)";

const KEY_API: Key = Key::new("rest-api");
const KEY_PERMISSION: Key = Key::new("permission");
const KEY_STAGE: Key = Key::new("stage");
const KEY_API_KEY: Key = Key::new("api-key");
const KEY_USAGE_PLAN: Key = Key::new("usage-plan");
const KEY_USAGE_PLAN_KEY: Key = Key::new("usage-plan-key");

/// The journal key of the resource (path) `path`.
fn resource_key(path: &str) -> Key {
    Key::owned(format!("resource:{path}"))
}

/// The journal key of method `method` on `path`.
fn method_key(method: &str, path: &str) -> Key {
    Key::owned(format!("method:{method} {path}"))
}

/// The journal key of the integration of method `method` on `path`.
fn integration_key(method: &str, path: &str) -> Key {
    Key::owned(format!("integration:{method} {path}"))
}

/// The journal keys of one custom domain and its root base path mapping.
struct DomainKeys {
    domain: Key,
    mapping: Key,
}
const REGIONAL_KEYS: DomainKeys = DomainKeys { domain: Key::new("domain"), mapping: Key::new("base-path-mapping") };
const FAILOVER_KEYS: DomainKeys = DomainKeys { domain: Key::new("failover-domain"), mapping: Key::new("failover-base-path-mapping") };

/// The backoff of API Gateway calls: its per-account rate limits are low (CreateRestApi
/// 1/3 s, CreateDeployment 1/5 s, domain names 1/30 s), so up to ~30 s.
fn rate_limit_policy() -> RetryPolicy {
    RetryPolicy { max_attempts: 8, base: Duration::from_secs(2), max_delay: Duration::from_secs(32) }
}

/// Retries throttling (API Gateway's TooManyRequestsException included) and transient
/// errors with a backoff suited to API Gateway's per-account rate limits (up to 30 s).
/// Only for calls that are safe to repeat (reads, PUTs, deletes); creates go through the
/// core's protocol.
pub async fn retry_rate_limited<T, F, Fut>(mut f: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let policy = rate_limit_policy();
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt + 1 < policy.max_attempts => {
                let delay = backoff_delay(&policy, attempt);
                tracing::debug!(code = %e.code, attempt, ?delay, "API Gateway rate limit: retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The patches that make `plan` match `want`: stages added / removed, throttle replaced.
pub fn usage_plan_patches(plan: &UsagePlanInfo, want: &UsagePlanSpec) -> Vec<Patch> {
    let stage = |(a, s): &(String, String)| format!("{a}:{s}");
    let mut out: Vec<Patch> = want
        .stages
        .iter()
        .filter(|s| !plan.stages.contains(s))
        .map(|s| Patch { op: "add", path: "/apiStages".into(), value: stage(s) })
        .collect();
    out.extend(
        plan.stages.iter().filter(|s| !want.stages.contains(s)).map(|s| Patch { op: "remove", path: "/apiStages".into(), value: stage(s) }),
    );
    if plan.rate_limit != Some(want.rate_limit) {
        out.push(Patch { op: "replace", path: "/throttle/rateLimit".into(), value: want.rate_limit.to_string() });
    }
    if plan.burst_limit != Some(want.burst_limit) {
        out.push(Patch { op: "replace", path: "/throttle/burstLimit".into(), value: want.burst_limit.to_string() });
    }
    out
}

/// The Lambda proxy integration URI of a function.
pub fn integration_uri(region: &str, function_arn: &str) -> String {
    format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
}

/// The statement id of the invoke permission granted to an API.
pub fn permission_statement_id(api_id: &str) -> String {
    format!("apigateway-{api_id}")
}

/// The regional REST API of one region.
pub struct ApiComponent {
    id: String,
    role: Placement,
    region: String,
    suffix: String,
    stage: String,
    domain: Option<String>,
    /// `dns.record_name` when the region has a custom domain (hence a certificate).
    failover_domain: Option<String>,
    configured_certificate: Option<String>,
    certificate_wanted: bool,
    /// `[api] public_reads`: `GET /items/{id}` without the key.
    public_reads: bool,
    rate_limit: f64,
    burst_limit: i32,
    apigw: Arc<dyn ApiGatewayApi>,
    lambda: Arc<dyn LambdaApi>,
    acm: Arc<dyn AcmApi>,
    /// Parameter Store of this region: the API key's value (the `parameters` copy).
    ssm: Arc<dyn SsmApi>,
}

impl ApiComponent {
    /// `apigw`, `lambda`, `acm` and `ssm` are clients of the region of `role` (ACM only reads
    /// a configured certificate, to check that it covers `dns.record_name`; SSM only reads
    /// the API key).
    pub fn new(
        cfg: &Config,
        role: Placement,
        apigw: Arc<dyn ApiGatewayApi>,
        lambda: Arc<dyn LambdaApi>,
        acm: Arc<dyn AcmApi>,
        ssm: Arc<dyn SsmApi>,
    ) -> Self {
        let (domain, configured_certificate) = match role {
            Placement::Secondary => (cfg.api.secondary_domain.clone(), cfg.api.secondary_certificate_arn.clone()),
            _ => (cfg.api.primary_domain.clone(), cfg.api.primary_certificate_arn.clone()),
        };
        Self {
            id: ids::api(role),
            role,
            region: cfg.region_of(role).to_string(),
            suffix: cfg.environment_suffix.clone(),
            stage: cfg.api.stage_name.clone(),
            failover_domain: domain.as_ref().and(cfg.dns.record_name.clone()),
            domain,
            configured_certificate,
            certificate_wanted: CertificateComponent::is_wanted(cfg, role),
            public_reads: cfg.api.public_reads,
            rate_limit: cfg.api.throttle_rate_limit,
            burst_limit: cfg.api.throttle_burst_limit,
            apigw,
            lambda,
            acm,
            ssm,
        }
    }

    /// Whether method `method` on `path` needs the API key.
    pub fn key_required(&self, path: &str, method: &str) -> bool {
        path != HEALTH_PATH && !(self.public_reads && method == "GET")
    }

    /// What the usage plan should look like for API `api_id` (drift check).
    fn plan_shape(&self, api_id: &str) -> UsagePlanSpec {
        UsagePlanSpec {
            name: self.usage_plan_name(),
            description: String::new(),
            stages: vec![(api_id.to_string(), self.stage.clone())],
            rate_limit: self.rate_limit,
            burst_limit: self.burst_limit,
            tags: Vec::new(),
        }
    }

    /// `api-key-{role}-{suffix}`.
    fn api_key_name(&self) -> String {
        naming::name("api-key", self.role, &self.suffix)
    }

    /// `usage-plan-{role}-{suffix}`.
    fn usage_plan_name(&self) -> String {
        naming::name("usage-plan", self.role, &self.suffix)
    }

    /// The failover domain when it is a domain of its own (not the regional domain itself).
    fn distinct_failover_domain(&self) -> Option<&str> {
        match (&self.failover_domain, &self.domain) {
            (Some(f), Some(d)) if dns_eq(f, d) => None,
            (f, _) => f.as_deref(),
        }
    }

    /// A configured certificate cannot be changed by Tandem: it must already cover the
    /// failover name, or the failover domain would be rejected (or serve a wrong name).
    async fn check_configured_certificate(&self, arn: &str, failover: &str) -> Result<(), ComponentError> {
        let cert = retry(|| self.acm.describe_certificate(arn)).await.at(arn, &self.region)?;
        let names: Vec<String> = std::iter::once(cert.domain_name.clone()).chain(cert.subject_alternative_names.iter().cloned()).collect();
        if certificate_covers(&names, failover) {
            return Ok(());
        }
        Err(ComponentError::invalid(
            self.name(),
            &self.region,
            format!(
                "configured certificate {arn} (api.{role}_certificate_arn, region {region}) does not cover {failover} \
                 (dns.record_name; it covers {names:?}). API Gateway routes the failover record by its Host header, so \
                 {region} needs a custom domain named {failover} with a certificate covering it: use a certificate of \
                 {region} that lists {failover} (or a matching wildcard), or remove api.{role}_certificate_arn so Tandem \
                 requests one",
                role = self.role,
                region = self.region,
            ),
        ))
    }

    /// `api-{role}-{suffix}`.
    pub fn name(&self) -> String {
        naming::name("api", self.role, &self.suffix)
    }

    /// The stack's REST APIs: the recorded one (else the prior outputs') if it still exists,
    /// else every API with this name and the stack tag (a create whose answer was lost).
    async fn find_apis(&self, ctx: &Ctx, recorded: Option<String>) -> Result<Vec<RestApiInfo>, AwsError> {
        let name = self.name();
        let known = recorded.or_else(|| ctx.prior_outputs::<ApiOutputs>().map(|o| o.rest_api_id)).filter(|i| !i.is_empty());
        if let Some(id) = known {
            if let Some(a) = none_if_not_found(retry(|| self.apigw.get_rest_api(&id)).await)? {
                return Ok(vec![a]);
            }
        }
        let all = retry(|| self.apigw.list_rest_apis()).await?;
        Ok(all.into_iter().filter(|a| a.name == name && has_stack_tag(&a.tags, &self.suffix)).collect())
    }

    /// The REST API, [`Rule::Tag`]: no unique name, no token. Tagged in CreateRestApi itself,
    /// sent once (no SDK retry), looked up by tag after an ambiguous failure; a spare copy
    /// is deleted.
    async fn ensure_api(&self, ctx: &Ctx) -> Result<RestApiInfo, ComponentError> {
        let name = self.name();
        let name = name.as_str();
        let description = format!("Tandem stack {} ({} region)", self.suffix, self.role);
        let tags = naming::tags(&self.suffix, name);
        let e = ctx
            .ensure::<RestApiInfo>(&KEY_API, name, Rule::Tag)
            .find(|recorded| self.find_apis(ctx, recorded))
            .create(|_token| {
                let (description, tags) = (description.clone(), tags.clone());
                async move { self.apigw.create_rest_api(name, &description, tags).await }
            })
            .discard(|id| async move { retry_rate_limited(|| self.apigw.delete_rest_api(&id)).await })
            .id(|a| a.id.clone())
            .backoff(rate_limit_policy())
            .outcome()
            .await?;
        if e.how == How::Created {
            tracing::info!(api = %name, id = %e.value.id, "REST API created");
        }
        Ok(e.value)
    }

    /// Ensures resources, methods and integrations; returns true when anything changed.
    /// Resources and methods are unique per path and verb ([`Rule::Name`]: a conflict means
    /// look it up); integrations are PUTs (safe to repeat: `ctx.update`). A method whose
    /// `apiKeyRequired` differs is deleted and put again; retired resources are deleted.
    async fn ensure_routes(&self, ctx: &Ctx, api_id: &str, function_arn: &str) -> Result<bool, ComponentError> {
        let name = self.name();
        let name = name.as_str();
        let region = self.region.as_str();
        let mut changed = false;
        let resources = retry(|| self.apigw.get_resources(api_id)).await.at(name, region)?;
        let root = resources
            .iter()
            .find(|r| r.path == "/")
            .map(|r| r.id.clone())
            .ok_or_else(|| ComponentError::invalid(name, region, format!("REST API {api_id} has no root resource")))?;
        let mut ids: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::from([("/", root)]);
        let uri = integration_uri(region, function_arn);
        for (part, path, parent) in RESOURCES {
            let parent_id = ids.get(parent).cloned().ok_or_else(|| ComponentError::invalid(name, region, format!("no resource {parent}")))?;
            let parent_id = parent_id.as_str();
            let resource: ResourceInfo = match resources.iter().find(|r| r.path == path) {
                Some(r) => {
                    ctx.adopt(&resource_key(path), &r.id).await?;
                    r.clone()
                }
                None => {
                    changed = true;
                    ctx.ensure::<ResourceInfo>(&resource_key(path), name, Rule::Name)
                        .known_absent()
                        .find_one(move |_| {
                            // Runs after an ambiguous create only (known_absent: the listing just read was the first look).
                            async move {
                                Ok(retry(|| self.apigw.get_resources(api_id)).await?.into_iter().find(|r| r.path == path))
                            }
                        })
                        .create(|_token| async move { self.apigw.create_resource(api_id, parent_id, part).await })
                        .id(|r| r.id.clone())
                        .backoff(rate_limit_policy())
                        .run()
                        .await?
                }
            };
            ids.insert(path, resource.id);
        }
        for (path, method) in RETIRED_RESOURCES {
            let Some(old) = resources.iter().find(|r| r.path == path) else { continue };
            let rid = old.id.clone();
            let rid = &rid;
            ctx.delete(
                &resource_key(path),
                name,
                |_| async move { Ok(vec![rid.clone()]) },
                |id| async move { retry_rate_limited(|| self.apigw.delete_resource(api_id, &id)).await },
            )
            .await?;
            for key in [method_key(method, path), integration_key(method, path)] {
                if ctx.entry(&key).await.is_some() {
                    ctx.forget(&key).await?;
                }
            }
            tracing::info!(api = %name, path, "retired route deleted");
            changed = true;
        }
        for (path, method) in METHODS {
            let rid = ids.get(path).cloned().ok_or_else(|| ComponentError::invalid(name, region, format!("no resource {path}")))?;
            let rid = rid.as_str();
            let want_key = self.key_required(path, method);
            let method_id = format!("{rid}:{method}");
            let mut existing = none_if_not_found(retry(|| self.apigw.get_method(api_id, rid, method)).await).at(name, region)?;
            if existing.as_ref().is_some_and(|m| m.api_key_required != want_key) {
                // PutMethod cannot change a method: delete it (its integration goes too), put it again.
                ctx.adopt(&method_key(method, path), &method_id).await?;
                ctx.delete(
                    &method_key(method, path),
                    name,
                    |_| async move { Ok(vec![method.to_string()]) },
                    |_| async move { retry_rate_limited(|| self.apigw.delete_method(api_id, rid, method)).await },
                )
                .await?;
                if ctx.entry(&integration_key(method, path)).await.is_some() {
                    ctx.forget(&integration_key(method, path)).await?;
                }
                existing = None;
            }
            let current: MethodInfo = match existing {
                Some(m) => {
                    ctx.adopt(&method_key(method, path), &method_id).await?;
                    m
                }
                None => {
                    changed = true;
                    let method_id = method_id.as_str();
                    ctx.ensure::<MethodInfo>(&method_key(method, path), name, Rule::Name)
                        .known_absent()
                        .find_one(move |_| {
                            async move {
                                none_if_not_found(retry(|| self.apigw.get_method(api_id, rid, method)).await)
                            }
                        })
                        .create(|_token| async move {
                            self.apigw.put_method(api_id, rid, method, want_key).await.map(|()| MethodInfo {
                                http_method: method.to_string(),
                                authorization_type: "NONE".into(),
                                api_key_required: want_key,
                                integration: None,
                            })
                        })
                        .id(move |_| method_id.to_string())
                        .backoff(rate_limit_policy())
                        .run()
                        .await?
                }
            };
            let integration_ok = current
                .integration
                .as_ref()
                .is_some_and(|i| i.integration_type == "AWS_PROXY" && i.http_method == "POST" && i.uri == uri);
            if !integration_ok {
                let key = integration_key(method, path);
                if ctx.recorded_id(&key).await.as_deref() != Some(method_id.as_str()) {
                    ctx.adopt(&key, &method_id).await?;
                }
                ctx.update(&key, || async {
                    retry_rate_limited(|| self.apigw.put_integration(api_id, rid, method, &uri)).await.at(name, region)
                })
                .await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The API key's value: the SecureString `api-key` of `parameters`, read in this region
    /// (the secondary holds the reconciled copy). Held in memory for the comparison only.
    async fn api_key_value(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let params: ParametersOutputs = ctx.input(ids::PARAMETERS)?;
        let name = params.api_key_parameter.as_str();
        let region = self.region.as_str();
        let found = retry(|| self.ssm.get_parameter(name)).await.at(name, region)?;
        match found {
            Some(p) if p.kind == ParamKind::SecureString && !p.value.is_empty() => Ok(p.value),
            Some(_) => Err(ComponentError::invalid(name, region, format!("{name} in {region} is not a non-empty SecureString: apply `parameters` again"))),
            None => Err(ComponentError::invalid(
                name,
                region,
                format!("{name} does not exist in {region}: apply `parameters` first (it writes the key and copies it to the secondary region)"),
            )),
        }
    }

    /// The stack's API keys named like this one's: the recorded one if it exists, else by
    /// name and stack tag; with their values when `values`.
    async fn find_api_keys(&self, recorded: Option<String>, values: bool) -> Result<Vec<ApiKeyInfo>, AwsError> {
        if let Some(id) = recorded.filter(|i| !i.is_empty()) {
            if let Some(k) = none_if_not_found(retry(|| self.apigw.get_api_key(&id, values)).await)? {
                return Ok(vec![k]);
            }
        }
        let name = self.api_key_name();
        let listed = retry(|| self.apigw.list_api_keys(&name)).await?;
        let mut out = Vec::new();
        for k in listed.into_iter().filter(|k| k.name == name && has_stack_tag(&k.tags, &self.suffix)) {
            if !values {
                out.push(k);
            } else if let Some(v) = none_if_not_found(retry(|| self.apigw.get_api_key(&k.id, true)).await)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The API key holding `value`, [`Rule::Tag`] (names are not unique; values are, per
    /// region). A key of this stack with another value (the parameter was rotated) is
    /// detached from the usage plan and deleted first.
    async fn ensure_api_key(&self, ctx: &Ctx, value: &str) -> Result<ApiKeyInfo, ComponentError> {
        let name = self.api_key_name();
        let name = name.as_str();
        let region = self.region.as_str();
        let recorded = ctx.recorded_id(&KEY_API_KEY).await;
        let live = self.find_api_keys(recorded, true).await.at(name, region)?;
        let stale: Vec<String> = live.iter().filter(|k| k.value.as_deref() != Some(value)).map(|k| k.id.clone()).collect();
        if !stale.is_empty() {
            tracing::info!(api_key = %name, "the API key parameter changed: replacing the API Gateway key");
            self.detach_plan_key(ctx, |key| stale.iter().any(|s| s == key)).await?;
            let stale = &stale;
            ctx.delete(&KEY_API_KEY, name, |_| async move { Ok(stale.clone()) }, |id| async move {
                retry_rate_limited(|| self.apigw.delete_api_key(&id)).await
            })
            .await?;
        }
        let tags = naming::tags(&self.suffix, name);
        let e = ctx
            .ensure::<ApiKeyInfo>(&KEY_API_KEY, name, Rule::Tag)
            .find(|recorded| async move {
                Ok(self.find_api_keys(recorded, true).await?.into_iter().filter(|k| k.value.as_deref() == Some(value)).collect())
            })
            .create(|_token| {
                let tags = tags.clone();
                async move { self.apigw.create_api_key(name, value, tags).await }
            })
            .discard(|id| async move { retry_rate_limited(|| self.apigw.delete_api_key(&id)).await })
            .id(|k| k.id.clone())
            .backoff(rate_limit_policy())
            .outcome()
            .await?;
        if e.how == How::Created {
            tracing::info!(api_key = %name, id = %e.value.id, "API key created");
        }
        Ok(ApiKeyInfo { value: None, ..e.value })
    }

    /// The stack's usage plans named like this one's: the recorded one if it exists, else by
    /// name and stack tag.
    async fn find_usage_plans(&self, recorded: Option<String>) -> Result<Vec<UsagePlanInfo>, AwsError> {
        if let Some(id) = recorded.filter(|i| !i.is_empty()) {
            if let Some(p) = none_if_not_found(retry(|| self.apigw.get_usage_plan(&id)).await)? {
                return Ok(vec![p]);
            }
        }
        let name = self.usage_plan_name();
        let all = retry(|| self.apigw.list_usage_plans()).await?;
        Ok(all.into_iter().filter(|p| p.name == name && has_stack_tag(&p.tags, &self.suffix)).collect())
    }

    /// The usage plan on this API's stage with the configured throttle, [`Rule::Tag`];
    /// stages and throttle of an existing plan are patched in place.
    async fn ensure_usage_plan(&self, ctx: &Ctx, api_id: &str) -> Result<UsagePlanInfo, ComponentError> {
        let name = self.usage_plan_name();
        let spec = UsagePlanSpec {
            name: name.clone(),
            description: format!("Tandem stack {} ({} region): throttle of the REST API", self.suffix, self.role),
            stages: vec![(api_id.to_string(), self.stage.clone())],
            rate_limit: self.rate_limit,
            burst_limit: self.burst_limit,
            tags: naming::tags(&self.suffix, &name),
        };
        let spec = &spec;
        let e = ctx
            .ensure::<UsagePlanInfo>(&KEY_USAGE_PLAN, &name, Rule::Tag)
            .find(|recorded| self.find_usage_plans(recorded))
            .create(|_token| async move { self.apigw.create_usage_plan(spec).await })
            .discard(|id| async move { self.delete_usage_plan(&id).await })
            .id(|p| p.id.clone())
            .backoff(rate_limit_policy())
            .outcome()
            .await?;
        if e.how == How::Created {
            tracing::info!(usage_plan = %name, id = %e.value.id, "usage plan created");
            return Ok(e.value);
        }
        let plan = e.value;
        let patches = usage_plan_patches(&plan, spec);
        if patches.is_empty() {
            return Ok(plan);
        }
        let id = plan.id.as_str();
        let updated = ctx
            .update(&KEY_USAGE_PLAN, || async {
                retry_rate_limited(|| self.apigw.update_usage_plan(id, patches.clone())).await.at(&name, &self.region)
            })
            .await?;
        tracing::info!(usage_plan = %name, "usage plan updated");
        Ok(updated)
    }

    /// Deletes a usage plan: its stages are removed first (API Gateway refuses to delete a
    /// plan still associated with a stage). NotFound is success.
    async fn delete_usage_plan(&self, id: &str) -> Result<(), AwsError> {
        let Some(plan) = none_if_not_found(retry(|| self.apigw.get_usage_plan(id)).await)? else {
            return Ok(());
        };
        let detach: Vec<Patch> =
            plan.stages.iter().map(|(a, s)| Patch { op: "remove", path: "/apiStages".into(), value: format!("{a}:{s}") }).collect();
        if !detach.is_empty() {
            retry_rate_limited(|| self.apigw.update_usage_plan(id, detach.clone())).await?;
        }
        retry_rate_limited(|| self.apigw.delete_usage_plan(id)).await
    }

    /// The key attached to the plan, [`Rule::Name`] (one per plan and key; a conflict means
    /// look it up). Journal id `<plan id>|<key id>`.
    async fn ensure_plan_key(&self, ctx: &Ctx, plan_id: &str, key_id: &str) -> Result<(), ComponentError> {
        let id = format!("{plan_id}|{key_id}");
        let id = id.as_str();
        let label = format!("{} key", self.usage_plan_name());
        let attached = retry(|| self.apigw.get_usage_plan_keys(plan_id)).await.at(&label, &self.region)?;
        if attached.iter().any(|k| k == key_id) {
            return ctx.adopt(&KEY_USAGE_PLAN_KEY, id).await;
        }
        ctx.ensure::<String>(&KEY_USAGE_PLAN_KEY, &label, Rule::Name)
            .known_absent()
            .find_one(move |_| async move {
                let keys = retry(|| self.apigw.get_usage_plan_keys(plan_id)).await?;
                Ok(keys.iter().any(|k| k == key_id).then(|| id.to_string()))
            })
            .create(|_token| async move { self.apigw.create_usage_plan_key(plan_id, key_id).await.map(|()| id.to_string()) })
            .id(|s| s.clone())
            .backoff(rate_limit_policy())
            .run()
            .await?;
        tracing::info!(usage_plan = %plan_id, "API key attached to the usage plan");
        Ok(())
    }

    /// Removes the recorded usage plan key when its key matches `which` (or always, on
    /// destroy): read first, so a key already gone needs no call. NotFound is success.
    async fn detach_plan_key(&self, ctx: &Ctx, which: impl Fn(&str) -> bool) -> Result<(), ComponentError> {
        let Some(recorded) = ctx.recorded_id(&KEY_USAGE_PLAN_KEY).await else {
            if ctx.entry(&KEY_USAGE_PLAN_KEY).await.is_some() {
                ctx.forget(&KEY_USAGE_PLAN_KEY).await?;
            }
            return Ok(());
        };
        let Some((plan, key)) = recorded.split_once('|').map(|(p, k)| (p.to_string(), k.to_string())) else {
            return ctx.forget(&KEY_USAGE_PLAN_KEY).await;
        };
        if !which(&key) {
            return Ok(());
        }
        let (plan, key) = (&plan, &key);
        ctx.delete(
            &KEY_USAGE_PLAN_KEY,
            &format!("{} key", self.usage_plan_name()),
            |recorded| async move {
                let attached = match retry(|| self.apigw.get_usage_plan_keys(plan)).await {
                    Err(e) if e.is_not_found() => Vec::new(),
                    other => other?,
                };
                Ok(recorded.filter(|_| attached.iter().any(|k| k == key)).into_iter().collect())
            },
            |_| async move { retry_rate_limited(|| self.apigw.delete_usage_plan_key(plan, key)).await },
        )
        .await
        .map(|_| ())
    }

    /// Destroy of the usage plan key, the usage plan, then the API key (before the API: the
    /// plan names its stage). A create whose answer was lost (journaled, no id) is found by
    /// name and tag.
    async fn destroy_throttling(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        self.detach_plan_key(ctx, |_| true).await?;
        let plan_name = self.usage_plan_name();
        let plan_journaled = ctx.entry(&KEY_USAGE_PLAN).await.is_some();
        let n = ctx
            .delete(
                &KEY_USAGE_PLAN,
                &plan_name,
                |recorded| async move {
                    match recorded {
                        Some(id) => Ok(none_if_not_found(self.apigw.get_usage_plan(&id).await)?.map(|p| p.id).into_iter().collect()),
                        None if plan_journaled => Ok(self.find_usage_plans(None).await?.into_iter().map(|p| p.id).collect()),
                        None => Ok(Vec::new()),
                    }
                },
                |id| async move { self.delete_usage_plan(&id).await },
            )
            .await?;
        if n > 0 {
            tracing::info!(usage_plan = %plan_name, "usage plan deleted");
        }
        let key_name = self.api_key_name();
        let key_journaled = ctx.entry(&KEY_API_KEY).await.is_some();
        ctx.delete(
            &KEY_API_KEY,
            &key_name,
            |recorded| async move {
                match recorded {
                    Some(id) => Ok(none_if_not_found(self.apigw.get_api_key(&id, false).await)?.map(|k| k.id).into_iter().collect()),
                    None if key_journaled => Ok(self.find_api_keys(None, false).await?.into_iter().map(|k| k.id).collect()),
                    None => Ok(Vec::new()),
                }
            },
            |id| async move { retry_rate_limited(|| self.apigw.delete_api_key(&id)).await },
        )
        .await?;
        Ok(())
    }

    /// The invoke permission, [`Rule::Name`]: the statement id is unique in the function's
    /// policy; a conflict means look it up.
    async fn ensure_permission(&self, ctx: &Ctx, api_id: &str, functions: &FunctionsOutputs) -> Result<(), ComponentError> {
        let function = functions.api_function_name.as_str();
        let account = functions.api_function_arn.split(':').nth(4).filter(|a| !a.is_empty()).ok_or_else(|| {
            ComponentError::invalid(
                function,
                &self.region,
                format!("cannot read the account id from function ARN {:?}", functions.api_function_arn),
            )
        })?;
        let sid = permission_statement_id(api_id);
        let sid = sid.as_str();
        let source_arn = format!("arn:aws:execute-api:{}:{account}:{api_id}/*/*/*", self.region);
        let source_arn = source_arn.as_str();
        let id = format!("{function}#{sid}");
        let id = id.as_str();
        let policy = retry(|| self.lambda.get_policy(function)).await.at(function, &self.region)?;
        if policy.as_deref().is_some_and(|p| policy_has_sid(p, sid)) {
            return ctx.adopt(&KEY_PERMISSION, id).await;
        }
        ctx.ensure::<String>(&KEY_PERMISSION, function, Rule::Name)
            .known_absent()
            .find_one(move |_| {
                async move {
                    let policy = retry(|| self.lambda.get_policy(function)).await?;
                    Ok(policy.as_deref().is_some_and(|p| policy_has_sid(p, sid)).then(|| id.to_string()))
                }
            })
            .create(|_token| async move {
                self.lambda.add_permission(function, sid, APIGATEWAY_PRINCIPAL, source_arn).await.map(|()| id.to_string())
            })
            .id(|s| s.clone())
            .run()
            .await
            .map(|_| ())
    }

    /// Deploys the API to the stage when the stage is missing or the routes changed. A
    /// deployment is a snapshot: repeating one (after a lost answer) only adds a snapshot
    /// the stage no longer points at, removed with the API. Journaled as an in-place change
    /// of the stage.
    async fn ensure_stage(&self, ctx: &Ctx, api_id: &str, changed: bool) -> Result<(), ComponentError> {
        let name = self.name();
        let deployed = match retry(|| self.apigw.get_stage(api_id, &self.stage)).await {
            Ok(d) => d.is_some(),
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e).at(&name, &self.region),
        };
        let stage_id = format!("{api_id}/{}", self.stage);
        if ctx.recorded_id(&KEY_STAGE).await.as_deref() != Some(stage_id.as_str()) {
            ctx.adopt(&KEY_STAGE, &stage_id).await?;
        }
        if deployed && !changed {
            return Ok(());
        }
        let description = format!("tandem apply ({})", self.stage);
        let id = ctx
            .update(&KEY_STAGE, || async {
                retry_rate_limited(|| self.apigw.create_deployment(api_id, &self.stage, &description)).await.at(&name, &self.region)
            })
            .await?;
        tracing::info!(api = %name, stage = %self.stage, deployment = %id, "deployed");
        Ok(())
    }

    /// True when the custom domain `d` is this stack's: it carries the stack tag, or the
    /// journal records it (created by an earlier run).
    async fn domain_is_ours(&self, ctx: &Ctx, keys: &DomainKeys, d: &DomainInfo) -> bool {
        has_stack_tag(&d.tags, &self.suffix) || ctx.recorded_id(&keys.domain).await.is_some_and(|r| dns_eq(&r, &d.domain_name))
    }

    /// The custom domain ([`Rule::Name`]: domain names are unique in a region) and its root
    /// base path mapping ([`Rule::Name`]: unique per domain and base path).
    async fn ensure_domain(&self, ctx: &Ctx, keys: &DomainKeys, domain: &str, certificate_arn: &str, api_id: &str) -> Result<DomainInfo, ComponentError> {
        let region = self.region.as_str();
        let current = none_if_not_found(retry(|| self.apigw.get_domain_name(domain)).await).at(domain, region)?;
        let ours = match &current {
            Some(d) => self.domain_is_ours(ctx, keys, d).await,
            None => true,
        };
        if !ours {
            return Err(ComponentError::invalid(
                domain,
                region,
                format!(
                    "custom domain {domain} exists in {region} but is not this stack's (no tag {}={}): remove it, or \
                     tag it if it is this stack's",
                    naming::STACK_TAG,
                    self.suffix
                ),
            ));
        }
        let info = match current {
            Some(d) => {
                ctx.adopt(&keys.domain, domain).await?;
                if d.regional_certificate_arn == certificate_arn || d.regional_certificate_arn.is_empty() {
                    d
                } else {
                    ctx.update(&keys.domain, || async {
                        retry_rate_limited(|| self.apigw.update_domain_certificate(domain, certificate_arn)).await.at(domain, region)
                    })
                    .await?
                }
            }
            None => {
                let tags = naming::tags(&self.suffix, domain);
                let e = ctx
                    .ensure::<DomainInfo>(&keys.domain, domain, Rule::Name)
                    .known_absent()
                    .find_one(move |_| {
                        async move {
                            let found = none_if_not_found(retry(|| self.apigw.get_domain_name(domain)).await)?;
                            Ok(found.filter(|d| has_stack_tag(&d.tags, &self.suffix)))
                        }
                    })
                    .create(|_token| {
                        let tags = tags.clone();
                        async move { self.apigw.create_domain_name(domain, certificate_arn, tags).await }
                    })
                    .id(|_| domain.to_string())
                    .backoff(rate_limit_policy())
                    .outcome()
                    .await?;
                if e.how == How::Created {
                    tracing::info!(domain, "custom domain created");
                }
                e.value
            }
        };
        let mappings = retry(|| self.apigw.get_base_path_mappings(domain)).await.at(domain, region)?;
        let root = mappings.iter().find(|m| m.base_path == ROOT_BASE_PATH || m.base_path.is_empty());
        let mapping_id = format!("{domain}|{ROOT_BASE_PATH}");
        let mapping_id = mapping_id.as_str();
        match root {
            Some(m) if m.rest_api_id == api_id && m.stage == self.stage => {
                ctx.adopt(&keys.mapping, mapping_id).await?;
            }
            other => {
                if let Some(stale) = other {
                    // Points at an API that was replaced: re-point it.
                    let base_path = stale.base_path.clone();
                    ctx.delete(
                        &keys.mapping,
                        domain,
                        |_| {
                            let base_path = base_path.clone();
                            async move { Ok(vec![base_path]) }
                        },
                        |bp| async move { retry_rate_limited(|| self.apigw.delete_base_path_mapping(domain, &bp)).await },
                    )
                    .await?;
                }
                let stage = self.stage.as_str();
                ctx.ensure::<String>(&keys.mapping, domain, Rule::Name)
                    .known_absent()
                    .find_one(move |_| {
                        async move {
                            let mappings = retry(|| self.apigw.get_base_path_mappings(domain)).await?;
                            Ok(mappings
                                .iter()
                                .any(|m| (m.base_path == ROOT_BASE_PATH || m.base_path.is_empty()) && m.rest_api_id == api_id && m.stage == stage)
                                .then(|| mapping_id.to_string()))
                        }
                    })
                    .create(|_token| async move { self.apigw.create_base_path_mapping(domain, api_id, stage).await.map(|()| mapping_id.to_string()) })
                    .id(|m| m.clone())
                    .backoff(rate_limit_policy())
                    .run()
                    .await?;
            }
        }
        Ok(info)
    }

    /// Deletes a custom domain's base path mappings to this API, then the domain (kept when
    /// it still maps other APIs). NotFound is success.
    async fn destroy_domain(&self, ctx: &Ctx, keys: &DomainKeys, domain: &str, api_id: Option<&str>) -> Result<(), ComponentError> {
        let region = self.region.as_str();
        let mappings = match retry(|| self.apigw.get_base_path_mappings(domain)).await {
            Err(e) if e.is_not_found() => Vec::new(),
            other => other.at(domain, region)?,
        };
        let ours: Vec<String> = mappings.iter().filter(|m| api_id.is_none_or(|a| a == m.rest_api_id)).map(|m| m.base_path.clone()).collect();
        let ours = &ours;
        ctx.delete(
            &keys.mapping,
            domain,
            |_| async move { Ok(ours.clone()) },
            |bp| async move { retry_rate_limited(|| self.apigw.delete_base_path_mapping(domain, &bp)).await },
        )
        .await?;
        let others = mappings.iter().any(|m| api_id.is_some_and(|a| a != m.rest_api_id));
        if others {
            tracing::warn!(domain, "custom domain still maps other APIs: kept");
            if ctx.entry(&keys.domain).await.is_some() {
                ctx.forget(&keys.domain).await?;
            }
            return Ok(());
        }
        ctx.delete(
            &keys.domain,
            domain,
            |_| async move { Ok(vec![domain.to_string()]) },
            |d| async move { retry_rate_limited(|| self.apigw.delete_domain_name(&d)).await },
        )
        .await?;
        tracing::info!(domain, "custom domain deleted");
        Ok(())
    }

    fn certificate_arn(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        if let Some(arn) = &self.configured_certificate {
            return Ok(arn.clone());
        }
        let cert: CertificateOutputs = ctx.input(&ids::certificate(self.role))?;
        Ok(cert.certificate_arn)
    }

    async fn apply_inner(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let functions: FunctionsOutputs = ctx.input(&ids::functions(self.role))?;
        let certificate_arn = match &self.domain {
            Some(_) => Some(self.certificate_arn(ctx)?),
            None => None,
        };
        // Before any change: a configured certificate must cover the failover name.
        if let (Some(arn), Some(failover)) = (&self.configured_certificate, self.distinct_failover_domain()) {
            self.check_configured_certificate(arn, failover).await?;
        }
        // Before any change: the key must be readable (written by `parameters`).
        let value = self.api_key_value(ctx).await?;
        let api = self.ensure_api(ctx).await?;
        ctx.check_cancelled()?;
        let changed = self.ensure_routes(ctx, &api.id, &functions.api_function_arn).await?;
        self.ensure_permission(ctx, &api.id, &functions).await?;
        self.ensure_stage(ctx, &api.id, changed).await?;
        // The key and the throttle (the plan names the stage, which exists from here on).
        let key = self.ensure_api_key(ctx, &value).await?;
        drop(value);
        let plan = self.ensure_usage_plan(ctx, &api.id).await?;
        self.ensure_plan_key(ctx, &plan.id, &key.id).await?;
        let domain = match (&self.domain, &certificate_arn) {
            (Some(d), Some(c)) => Some(self.ensure_domain(ctx, &REGIONAL_KEYS, d, c, &api.id).await?),
            _ => None,
        };
        // A failover domain of an earlier configuration (dns.record_name changed): removed.
        let stale = ctx.prior_outputs::<ApiOutputs>().and_then(|p| p.failover_domain).filter(|old| {
            !self.failover_domain.as_deref().is_some_and(|f| dns_eq(f, old)) && !self.domain.as_deref().is_some_and(|d| dns_eq(d, old))
        });
        if let Some(old) = stale {
            self.destroy_domain(ctx, &FAILOVER_KEYS, &old, Some(&api.id)).await?;
        }
        // The custom domain named like the failover records (API Gateway routes by Host).
        let failover = match (self.distinct_failover_domain(), &certificate_arn) {
            (Some(f), Some(c)) => Some(self.ensure_domain(ctx, &FAILOVER_KEYS, f, c, &api.id).await?),
            _ => domain.clone().filter(|_| self.failover_domain.is_some()),
        };
        let host = format!("{}.execute-api.{}.amazonaws.com", api.id, self.region);
        Ok(to_outputs(&ApiOutputs {
            rest_api_id: api.id.clone(),
            stage_name: self.stage.clone(),
            invoke_url: format!("https://{host}/{}", self.stage),
            execute_api_host: host,
            health_path: format!("/{}/health", self.stage),
            custom_domain: self.domain.clone(),
            regional_domain_name: domain.as_ref().map(|d| d.regional_domain_name.clone()),
            regional_hosted_zone_id: domain.as_ref().map(|d| d.regional_hosted_zone_id.clone()),
            certificate_arn,
            failover_domain: failover.as_ref().and(self.failover_domain.clone()),
            failover_regional_domain_name: failover.as_ref().map(|d| d.regional_domain_name.clone()),
            failover_regional_hosted_zone_id: failover.as_ref().map(|d| d.regional_hosted_zone_id.clone()),
        }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name();
        let prior = ctx.prior_outputs::<ApiOutputs>();
        let known = ctx.recorded_id(&KEY_API).await.or_else(|| prior.as_ref().map(|p| p.rest_api_id.clone())).filter(|i| !i.is_empty());
        let journaled = ctx.entry(&KEY_API).await.is_some();
        // A create whose answer was lost has no recorded id: the APIs are found by tag.
        let lost: Vec<String> = match &known {
            None if journaled => self.find_apis(ctx, None).await.at(&name, &self.region)?.into_iter().map(|a| a.id).collect(),
            _ => Vec::new(),
        };
        let api_id = known.clone().or_else(|| lost.first().cloned());
        // 0. The usage plan key, the usage plan (it names the stage), the API key.
        self.destroy_throttling(ctx).await?;
        let domain = prior.as_ref().and_then(|p| p.custom_domain.clone()).or_else(|| self.domain.clone());
        // 1-2. The failover domain (named dns.record_name): base path mapping, then domain.
        let failover = prior.as_ref().and_then(|p| p.failover_domain.clone()).or_else(|| self.distinct_failover_domain().map(str::to_string));
        let failover_recorded = ctx.entry(&FAILOVER_KEYS.domain).await.is_some() || prior.as_ref().is_some_and(|p| p.failover_domain.is_some());
        if let (Some(f), true) = (failover, failover_recorded) {
            // The same name as the regional domain: deleted once, below.
            if !domain.as_deref().is_some_and(|d| dns_eq(d, &f)) {
                self.destroy_domain(ctx, &FAILOVER_KEYS, &f, api_id.as_deref()).await?;
            }
        }
        // 3-4. The regional domain: base path mapping, then domain.
        let domain_recorded = ctx.entry(&REGIONAL_KEYS.domain).await.is_some() || prior.as_ref().is_some_and(|p| p.custom_domain.is_some());
        if let (Some(domain), true) = (domain, domain_recorded) {
            self.destroy_domain(ctx, &REGIONAL_KEYS, &domain, api_id.as_deref()).await?;
        }
        // 5. The API (stages, deployments, resources go with it).
        let (known, lost) = (&known, &lost);
        let n = ctx
            .delete(
                &KEY_API,
                &name,
                |_| async move {
                    let Some(id) = known else { return Ok(lost.clone()) };
                    // Its existence is read first: this spares DeleteRestApi's 1 call / 30 s
                    // limit when the API is already gone.
                    Ok(none_if_not_found(self.apigw.get_rest_api(id).await)?.map(|a| a.id).into_iter().collect())
                },
                |id| async move { retry_rate_limited(|| self.apigw.delete_rest_api(&id)).await },
            )
            .await?;
        if n > 0 {
            tracing::info!(api = %name, "REST API deleted");
        }
        // 6. The Lambda permission.
        ctx.delete_recorded(&KEY_PERMISSION, &name, |id| async move {
            match id.split_once('#') {
                Some((function, sid)) => retry(|| self.lambda.remove_permission(function, sid)).await,
                None => Ok(()),
            }
        })
        .await?;
        ctx.forget_all().await
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let name = self.name();
        let region = self.region.as_str();
        let Some(prior) = ctx.prior_outputs::<ApiOutputs>() else {
            return Ok(Drift::Missing { details: vec![format!("{name}: no recorded API")] });
        };
        match retry(|| self.apigw.get_rest_api(&prior.rest_api_id)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Drift::Missing { details: vec![format!("{name} ({}) is gone", prior.rest_api_id)] }),
            Err(e) => return Err(e).at(&name, region),
        }
        let mut details = Vec::new();
        if let Some(id) = ctx.recorded_id(&KEY_USAGE_PLAN).await {
            match none_if_not_found(retry(|| self.apigw.get_usage_plan(&id)).await).at(&name, region)? {
                None => details.push(format!("usage plan {id} is gone")),
                Some(p) if !usage_plan_patches(&p, &self.plan_shape(&prior.rest_api_id)).is_empty() => {
                    details.push(format!("usage plan {id} differs (stage or throttle)"))
                }
                Some(_) => {}
            }
        }
        if let Some(id) = ctx.recorded_id(&KEY_API_KEY).await {
            match none_if_not_found(retry(|| self.apigw.get_api_key(&id, true)).await).at(&name, region)? {
                None => details.push(format!("API key {id} is gone")),
                Some(key) => {
                    // A rotated parameter: compared in memory, named, never shown.
                    let param = tandem_core::contracts::api_key::parameter(&self.suffix);
                    let stored = retry(|| self.ssm.get_parameter(&param)).await.at(&param, region)?;
                    if stored.is_some_and(|p| key.value.as_deref() != Some(p.value.as_str())) {
                        details.push(format!("API key {id} does not hold the value of {param} (rotated): apply replaces it"));
                    }
                }
            }
        }
        match retry(|| self.apigw.get_stage(&prior.rest_api_id, &prior.stage_name)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => details.push(format!("stage {} is gone", prior.stage_name)),
            Err(e) => return Err(e).at(&name, region),
        }
        let failover = prior.failover_domain.as_ref().filter(|f| !prior.custom_domain.as_deref().is_some_and(|d| dns_eq(d, f)));
        for domain in prior.custom_domain.iter().chain(failover) {
            match retry(|| self.apigw.get_domain_name(domain)).await {
                Ok(_) => {
                    let mappings = retry(|| self.apigw.get_base_path_mappings(domain)).await.at(domain, region)?;
                    if !mappings.iter().any(|m| m.rest_api_id == prior.rest_api_id) {
                        details.push(format!("{domain} no longer maps to {name}"));
                    }
                }
                Err(e) if e.is_not_found() => details.push(format!("custom domain {domain} is gone")),
                Err(e) => return Err(e).at(domain, region),
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[async_trait::async_trait]
impl Component for ApiComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "rest-api"
    }
    fn placement(&self) -> Placement {
        self.role
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        // `parameters`: the API key's value (its SecureString, copied to the secondary).
        let mut d = vec![ids::functions(self.role), ids::PARAMETERS.to_string()];
        if self.certificate_wanted {
            d.push(ids::certificate(self.role));
        }
        d
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::ApiOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // A dozen control-plane calls under API Gateway's fixed quotas (CreateRestApi 1 per 3 s,
        // CreateDeployment 1 per 5 s, "Amazon API Gateway quotas"; AWS-NOTES.md); each custom
        // domain adds ~30-60 s (CreateDomainName: 1 request every 30 s per account).
        let domains = u64::from(self.domain.is_some()) + u64::from(self.distinct_failover_domain().is_some());
        Duration::from_secs(45 + 45 * domains)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "name": self.name(), "endpoint": "REGIONAL" }),
            json!({
                "stage": self.stage,
                "routes": METHODS
                    .iter()
                    .map(|(p, m)| format!("{m} {p}{}", if self.key_required(p, m) { " (api key)" } else { "" }))
                    .collect::<Vec<_>>(),
                "public_reads": self.public_reads,
                "usage_plan": { "name": self.usage_plan_name(), "rate_limit": self.rate_limit, "burst_limit": self.burst_limit },
                "api_key": self.api_key_name(),
                "integration": "AWS_PROXY",
                "domain": self.domain,
                "failover_domain": self.failover_domain,
                "configured_certificate": self.configured_certificate,
                "security_policy": "TLS_1_2",
            }),
        )
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let span = tracing::info_span!("apply", component = %self.id, region = %self.region);
        self.apply_inner(ctx).instrument(span).await
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let span = tracing::info_span!("destroy", component = %self.id, region = %self.region);
        self.destroy_inner(ctx).instrument(span).await
    }
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let span = tracing::info_span!("read", component = %self.id, region = %self.region);
        self.read_inner(ctx).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acm_api::{CertificateInfo, MockAcmApi};
    use crate::apigw_api::{BasePathInfo, IntegrationInfo, MethodInfo, MockApiGatewayApi};
    use tandem_data::ssm::{MockSsmApi, Parameter};
    use tandem_clients::lambda::MockLambdaApi;
    use crate::test_support::{cfg, functions, prior};
    use mockall::Sequence;
    use tandem_core::from_outputs;

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c1";
    const DOMAIN: &str = "primary.api.example.com";

    fn config(domain: bool) -> Config {
        let mut c = cfg();
        if domain {
            c.api.primary_domain = Some(DOMAIN.into());
            c.api.secondary_domain = Some("secondary.api.example.com".into());
        }
        c
    }

    fn ctx(domain: bool) -> Ctx {
        let mut c = Ctx::standalone("api-primary", "us-east-1").with_input("functions-primary", &functions("us-east-1")).with_input("parameters", &parameters());
        if domain {
            c = c.with_input(
                "certificate-primary",
                &CertificateOutputs { certificate_arn: CERT.into(), domain_name: DOMAIN.into(), status: "ISSUED".into(), validation_records: vec![] },
            );
        }
        c
    }

    fn uri() -> String {
        integration_uri("us-east-1", &functions("us-east-1").api_function_arn)
    }

    fn res(id: &str, path: &str) -> ResourceInfo {
        ResourceInfo { id: id.into(), parent_id: None, path: path.into(), path_part: None }
    }

    /// The API key's value in Parameter Store (test data, not a secret).
    const KEY_VALUE: &str = "k3y-0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    fn parameters() -> ParametersOutputs {
        ParametersOutputs {
            path: "/tandem/t/".into(),
            names: vec![],
            api_key_parameter: "/tandem/t/api-key".into(),
            api_key_sha256_parameter: "/tandem/t/api-key-sha256".into(),
        }
    }

    /// Parameter Store holding the key (read by name, decrypted).
    fn ssm() -> Arc<dyn SsmApi> {
        let mut m = MockSsmApi::new();
        m.expect_get_parameter()
            .withf(|n| n == "/tandem/t/api-key")
            .returning(|n| Ok(Some(Parameter::new(n, ParamKind::SecureString, KEY_VALUE))));
        Arc::new(m)
    }

    fn key_info(value: bool) -> ApiKeyInfo {
        ApiKeyInfo {
            id: "k1".into(),
            name: "api-key-primary-t".into(),
            enabled: true,
            tags: naming::tags("t", "api-key-primary-t"),
            value: value.then(|| KEY_VALUE.to_string()),
        }
    }

    fn plan_info() -> UsagePlanInfo {
        UsagePlanInfo {
            id: "up1".into(),
            name: "usage-plan-primary-t".into(),
            tags: naming::tags("t", "usage-plan-primary-t"),
            stages: vec![("abc123".into(), "live".into())],
            rate_limit: Some(50.0),
            burst_limit: Some(100),
        }
    }

    /// An API key, usage plan and plan key that are all in place.
    fn existing_throttling(gw: &mut MockApiGatewayApi) {
        gw.expect_list_api_keys().returning(|_| Ok(vec![key_info(false)]));
        gw.expect_get_api_key().returning(|_, v| Ok(key_info(v)));
        gw.expect_list_usage_plans().returning(|| Ok(vec![plan_info()]));
        gw.expect_get_usage_plan().returning(|_| Ok(plan_info()));
        gw.expect_get_usage_plan_keys().returning(|_| Ok(vec!["k1".into()]));
    }

    fn method_with(m: &str, api_key_required: bool) -> MethodInfo {
        MethodInfo {
            http_method: m.into(),
            authorization_type: "NONE".into(),
            api_key_required,
            integration: Some(IntegrationInfo { integration_type: "AWS_PROXY".into(), http_method: "POST".into(), uri: uri() }),
        }
    }

    fn api_info() -> RestApiInfo {
        RestApiInfo { id: "abc123".into(), name: "api-primary-t".into(), tags: naming::tags("t", "api-primary-t") }
    }

    fn domain_info() -> DomainInfo {
        DomainInfo {
            domain_name: DOMAIN.into(),
            regional_domain_name: "d-xyz.execute-api.us-east-1.amazonaws.com".into(),
            regional_hosted_zone_id: "Z1UJRXOUMOOFQ8".into(),
            regional_certificate_arn: CERT.into(),
            tags: naming::tags("t", DOMAIN),
        }
    }

    fn outputs(domain: bool) -> ApiOutputs {
        ApiOutputs {
            rest_api_id: "abc123".into(),
            stage_name: "live".into(),
            invoke_url: "https://abc123.execute-api.us-east-1.amazonaws.com/live".into(),
            execute_api_host: "abc123.execute-api.us-east-1.amazonaws.com".into(),
            health_path: "/live/health".into(),
            custom_domain: domain.then(|| DOMAIN.to_string()),
            regional_domain_name: domain.then(|| domain_info().regional_domain_name),
            regional_hosted_zone_id: domain.then(|| domain_info().regional_hosted_zone_id),
            certificate_arn: domain.then(|| CERT.to_string()),
            failover_domain: None,
            failover_regional_domain_name: None,
            failover_regional_hosted_zone_id: None,
        }
    }

    fn nf(code: &str) -> AwsError {
        AwsError::not_found(code, "not found")
    }

    #[tokio::test(start_paused = true)]
    async fn creates_api_routes_permission_stage_domain_and_mapping_in_order() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut s = Sequence::new();
        gw.expect_list_rest_apis().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        gw.expect_create_rest_api()
            .withf(|n, _, tags| n == "api-primary-t" && *tags == naming::tags("t", "api-primary-t"))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(api_info()));
        gw.expect_get_resources().times(1).in_sequence(&mut s).returning(|_| Ok(vec![res("root", "/")]));
        for (part, path, parent, rid) in [("health", "/health", "root", "r-health"), ("items", "/items", "root", "r-items"), ("{id}", "/items/{id}", "r-items", "r-item")] {
            gw.expect_create_resource()
                .withf(move |a, p, x| a == "abc123" && p == parent && x == part)
                .times(1)
                .in_sequence(&mut s)
                .returning(move |_, _, _| Ok(res(rid, path)));
        }
        // GET /health without a key; every /items/{id} method with one.
        for (m, rid, key) in [("GET", "r-health", false), ("GET", "r-item", true), ("PUT", "r-item", true), ("DELETE", "r-item", true)] {
            gw.expect_get_method().withf(move |_, r, x| r == rid && x == m).times(1).in_sequence(&mut s).returning(|_, _, _| Err(nf("NotFoundException")));
            gw.expect_put_method().withf(move |_, r, x, k| r == rid && x == m && *k == key).times(1).in_sequence(&mut s).returning(|_, _, _, _| Ok(()));
            gw.expect_put_integration()
                .withf(move |_, r, x, u| r == rid && x == m && u == uri())
                .times(1)
                .in_sequence(&mut s)
                .returning(|_, _, _, _| Ok(()));
        }
        lambda.expect_get_policy().withf(|f| f == "api-primary-t").times(1).in_sequence(&mut s).returning(|_| Ok(None));
        lambda
            .expect_add_permission()
            .withf(|f, sid, p, src| {
                f == "api-primary-t" && sid == "apigateway-abc123" && p == APIGATEWAY_PRINCIPAL && src == "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/*"
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _, _| Ok(()));
        gw.expect_get_stage().times(1).in_sequence(&mut s).returning(|_, _| Err(nf("NotFoundException")));
        gw.expect_create_deployment().withf(|a, st, _| a == "abc123" && st == "live").times(1).in_sequence(&mut s).returning(|_, _, _| Ok("dep1".into()));
        // The key (value from Parameter Store), the usage plan on the stage, the key attached.
        gw.expect_list_api_keys().withf(|n| n == "api-key-primary-t").times(2).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_api_key()
            .withf(|n, v, tags| n == "api-key-primary-t" && v == KEY_VALUE && *tags == naming::tags("t", "api-key-primary-t"))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(key_info(false)));
        gw.expect_list_usage_plans().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        gw.expect_create_usage_plan()
            .withf(|p| {
                p.name == "usage-plan-primary-t"
                    && p.stages == vec![("abc123".to_string(), "live".to_string())]
                    && p.rate_limit == 50.0
                    && p.burst_limit == 100
                    && p.tags == naming::tags("t", "usage-plan-primary-t")
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_| Ok(plan_info()));
        gw.expect_get_usage_plan_keys().withf(|p| p == "up1").times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_usage_plan_key().withf(|p, k| p == "up1" && k == "k1").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_get_domain_name().times(1).in_sequence(&mut s).returning(|_| Err(nf("NotFoundException")));
        gw.expect_create_domain_name()
            .withf(|d, c, tags| d == DOMAIN && c == CERT && tags.contains(&("tandem:stack".into(), "t".into())))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(domain_info()));
        gw.expect_get_base_path_mappings().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_base_path_mapping()
            .withf(|d, a, st| d == DOMAIN && a == "abc123" && st == "live")
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(()));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        assert_eq!(c.dependencies(), vec!["functions-primary".to_string(), "parameters".to_string(), "certificate-primary".to_string()]);
        let ctx = ctx(true);
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs(true));
        assert_eq!(ctx.resource_id("api-key").await.as_deref(), Some("k1"));
        assert_eq!(ctx.resource_id("usage-plan").await.as_deref(), Some("up1"));
        assert_eq!(ctx.resource_id("usage-plan-key").await.as_deref(), Some("up1|k1"));
        // The key's value is nowhere in the journal, the outputs or the desired configuration.
        let everything = format!("{:?} {} {}", ctx.journal_entries().await, serde_json::to_string(&out).unwrap(), serde_json::to_string(&c.desired()).unwrap());
        assert!(!everything.contains(KEY_VALUE), "{everything}");
        assert_eq!(ctx.resource_id("permission").await.as_deref(), Some("api-primary-t#apigateway-abc123"));
    }

    fn resources() -> Vec<ResourceInfo> {
        vec![res("root", "/"), res("r-health", "/health"), res("r-items", "/items"), res("r-item", "/items/{id}")]
    }

    fn existing_api(gw: &mut MockApiGatewayApi, lambda: &mut MockLambdaApi) {
        existing_throttling(gw);
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda
            .expect_get_policy()
            .returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_api_makes_no_mutating_call() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        gw.expect_get_domain_name().returning(|_| Ok(domain_info()));
        gw.expect_get_base_path_mappings()
            .returning(|_| Ok(vec![BasePathInfo { base_path: ROOT_BASE_PATH.into(), rest_api_id: "abc123".into(), stage: "live".into() }]));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(true).with_prior(prior(&c, &outputs(true), &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs(true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_function_redeploys_the_integration() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        existing_throttling(&mut gw);
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| {
            let mut x = method_with(m, r != "r-health");
            if let Some(i) = x.integration.as_mut() {
                i.uri = "arn:old".into();
            }
            Ok(x)
        });
        gw.expect_put_integration().withf(|_, _, _, u| u == uri()).times(4).returning(|_, _, _, _| Ok(()));
        lambda.expect_get_policy().returning(|_| Ok(None));
        lambda.expect_add_permission().times(1).returning(|_, _, _, _| Ok(()));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        gw.expect_create_deployment().times(1).returning(|_, _, _| Ok("dep2".into()));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        assert_eq!(c.dependencies(), vec!["functions-primary".to_string(), "parameters".to_string()]);
        let ctx = ctx(false).with_prior(prior(&c, &outputs(false), &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs(false));
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_removes_mapping_domain_api_then_permission() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut s = Sequence::new();
        gw.expect_get_base_path_mappings()
            .times(1)
            .in_sequence(&mut s)
            .returning(|_| Ok(vec![BasePathInfo { base_path: ROOT_BASE_PATH.into(), rest_api_id: "abc123".into(), stage: "live".into() }]));
        gw.expect_delete_base_path_mapping().withf(|d, b| d == DOMAIN && b == ROOT_BASE_PATH).times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_delete_domain_name().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_rest_api().times(1).in_sequence(&mut s).returning(|_| Ok(api_info()));
        gw.expect_delete_rest_api().withf(|a| a == "abc123").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        lambda
            .expect_remove_permission()
            .withf(|f, sid| f == "api-primary-t" && sid == "apigateway-abc123")
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok(()));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &outputs(true),
            &[("rest-api", "abc123"), ("domain", DOMAIN), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_treats_not_found_as_success() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_base_path_mappings().returning(|_| Err(nf("NotFoundException")));
        gw.expect_delete_domain_name().returning(|_| Err(nf("NotFoundException")));
        // Gone between the check and the delete: still success.
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_delete_rest_api().returning(|_| Err(nf("NotFoundException")));
        lambda.expect_remove_permission().returning(|_, _| Err(nf("ResourceNotFoundException")));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &outputs(true),
            &[("rest-api", "abc123"), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
    }

    #[tokio::test(start_paused = true)]
    async fn second_destroy_makes_no_delete_call() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_base_path_mappings().returning(|_| Err(nf("NotFoundException")));
        gw.expect_delete_domain_name().returning(|_| Err(nf("NotFoundException")));
        gw.expect_get_rest_api().returning(|_| Err(nf("NotFoundException")));
        lambda.expect_remove_permission().returning(|_, _| Err(nf("ResourceNotFoundException")));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &outputs(true),
            &[("rest-api", "abc123"), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_requests_is_retried() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_list_rest_apis().returning(|| Ok(vec![]));
        let mut s = Sequence::new();
        gw.expect_create_rest_api()
            .times(3)
            .in_sequence(&mut s)
            .returning(|_, _, _| Err(AwsError::new("TooManyRequestsException", "Too Many Requests", Some(429))));
        gw.expect_create_rest_api().times(1).in_sequence(&mut s).returning(|_, _, _| Ok(api_info()));
        // After ambiguous failures, the created API is checked for spares by its id.
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        existing_throttling(&mut gw);
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("d".into())));
        // The statement appears between the read and AddPermission (a concurrent apply): the
        // conflict is looked up and adopted.
        let reads = std::sync::atomic::AtomicUsize::new(0);
        lambda.expect_get_policy().returning(move |_| {
            Ok((reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0)
                .then(|| r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.to_string()))
        });
        lambda.expect_add_permission().times(1).returning(|_, _, _, _| Err(AwsError::other("ResourceConflictException", "statement exists")));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(false);
        c.apply(&ctx).await.expect("apply after rate limiting");
        assert_eq!(ctx.recorded_id(&KEY_PERMISSION).await.as_deref(), Some("api-primary-t#apigateway-abc123"));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_name_resource_and_region() {
        let mut gw = MockApiGatewayApi::new();
        gw.expect_list_rest_apis().returning(|| Ok(vec![]));
        gw.expect_create_rest_api().returning(|_, _, _| Err(AwsError::other("BadRequestException", "nope")));
        let c = ApiComponent::new(&config(false), Placement::Secondary, Arc::new(gw), Arc::new(MockLambdaApi::new()), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-secondary", "us-east-2")
            .with_input("functions-secondary", &functions("us-east-2"))
            .with_input("parameters", &parameters());
        let msg = c.apply(&ctx).await.unwrap_err().to_string();
        assert!(msg.contains("api-secondary-t") && msg.contains("us-east-2") && msg.contains("BadRequestException"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_a_missing_domain_as_drift() {
        let mut gw = MockApiGatewayApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_stage().returning(|_, _| Ok(Some("d".into())));
        gw.expect_get_domain_name().returning(|_| Err(nf("NotFoundException")));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(MockLambdaApi::new()), Arc::new(MockAcmApi::new()), ssm());
        let d = c.read(&Ctx::standalone("api-primary", "us-east-1").with_prior(prior(&c, &outputs(true), &[]))).await.expect("read");
        assert!(matches!(d, Drift::Drifted { .. }), "{d:?}");
    }

    /// An API Gateway whose CreateRestApi acts but loses the answer of the first `lose`
    /// calls; GetRestApis shows the APIs only when `visible`.
    struct LossyApis {
        apis: std::sync::Mutex<Vec<RestApiInfo>>,
        creates: std::sync::atomic::AtomicUsize,
        lose: std::sync::atomic::AtomicUsize,
        visible: std::sync::atomic::AtomicBool,
    }

    fn lossy_apis(lose: usize, visible: bool) -> Arc<LossyApis> {
        Arc::new(LossyApis {
            apis: std::sync::Mutex::new(Vec::new()),
            creates: std::sync::atomic::AtomicUsize::new(0),
            lose: std::sync::atomic::AtomicUsize::new(lose),
            visible: std::sync::atomic::AtomicBool::new(visible),
        })
    }

    /// The mock over `w`, with the routes, stage and permission already in place.
    fn lossy_gateway(w: &Arc<LossyApis>, lambda: &mut MockLambdaApi) -> MockApiGatewayApi {
        use std::sync::atomic::Ordering::SeqCst;
        let mut gw = MockApiGatewayApi::new();
        let (a, b, c, d) = (w.clone(), w.clone(), w.clone(), w.clone());
        gw.expect_create_rest_api().returning(move |name, _, tags| {
            let n = a.creates.fetch_add(1, SeqCst) + 1;
            let api = RestApiInfo { id: if n == 1 { "abc123".into() } else { format!("spare{n}") }, name: name.to_string(), tags };
            a.apis.lock().unwrap_or_else(|p| p.into_inner()).push(api.clone());
            if a.lose.load(SeqCst) > 0 {
                a.lose.fetch_sub(1, SeqCst);
                return Err(AwsError::new("InternalFailure", "connection reset after sending", Some(500)));
            }
            Ok(api)
        });
        gw.expect_list_rest_apis()
            .returning(move || Ok(if b.visible.load(SeqCst) { b.apis.lock().unwrap_or_else(|p| p.into_inner()).clone() } else { Vec::new() }));
        gw.expect_get_rest_api().returning(move |id| {
            c.apis.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|x| x.id == id).cloned().ok_or_else(|| nf("NotFoundException"))
        });
        gw.expect_delete_rest_api().returning(move |id| {
            d.apis.lock().unwrap_or_else(|p| p.into_inner()).retain(|x| x.id != id);
            Ok(())
        });
        existing_throttling(&mut gw);
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda
            .expect_get_policy()
            .returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
        gw
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_rest_api_answer_is_found_by_tag_not_created_again() {
        let w = lossy_apis(1, true);
        let mut lambda = MockLambdaApi::new();
        let gw = lossy_gateway(&w, &mut lambda);
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(false);
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.rest_api_id, "abc123");
        assert_eq!(w.creates.load(std::sync::atomic::Ordering::SeqCst), 1, "CreateRestApi sent once");
        assert_eq!(w.apis.lock().unwrap_or_else(|p| p.into_inner()).len(), 1, "exactly one API");
        let e = ctx.entry(&KEY_API).await.expect("journaled");
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("abc123")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_run_keeps_one_api_and_deletes_the_spares_of_lost_answers() {
        // Run 1: every CreateRestApi acts but its answer is lost, and GetRestApis lags: the
        // run gives up with the entry pending (each attempt looked first, found nothing).
        let w = lossy_apis(usize::MAX, false);
        let mut lambda = MockLambdaApi::new();
        let gw = lossy_gateway(&w, &mut lambda);
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx1 = ctx(false);
        c.apply(&ctx1).await.expect_err("ambiguous until the end");
        assert_eq!(ctx1.entry(&KEY_API).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Pending));
        let made = w.apis.lock().unwrap_or_else(|p| p.into_inner()).len();
        assert_eq!(made, tandem_core::protocol::MAX_CREATE_ATTEMPTS as usize, "one create per attempt, never a blind SDK re-send");
        // Run 2, resumed from the journal: the copies are found by tag, one is kept and
        // journaled, the others deleted; nothing is created.
        w.visible.store(true, std::sync::atomic::Ordering::SeqCst);
        w.lose.store(0, std::sync::atomic::Ordering::SeqCst);
        let mut state = tandem_core::state::ComponentState::new(c.kind(), c.placement(), c.region());
        state.resources = ctx1.journal_entries().await;
        let ctx2 = ctx(false).with_prior(state);
        let out: ApiOutputs = from_outputs(&c.apply(&ctx2).await.expect("resumed apply")).expect("outputs");
        let left = w.apis.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(left.len(), 1, "exactly one API afterwards: {left:?}");
        assert_eq!(out.rest_api_id, left[0].id);
        assert_eq!(ctx2.recorded_id(&KEY_API).await, Some(left[0].id.clone()), "the journal records it");
        assert_eq!(w.creates.load(std::sync::atomic::Ordering::SeqCst), made, "nothing created by the resumed run");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_an_api_whose_create_answer_was_lost() {
        let w = lossy_apis(usize::MAX, false);
        let mut lambda = MockLambdaApi::new();
        let gw = lossy_gateway(&w, &mut lambda);
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx1 = ctx(false);
        c.apply(&ctx1).await.expect_err("ambiguous");
        w.visible.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut state = tandem_core::state::ComponentState::new(c.kind(), c.placement(), c.region());
        state.resources = ctx1.journal_entries().await;
        let d = Ctx::standalone("api-primary", "us-east-1").with_prior(state);
        c.destroy(&d).await.expect("destroy");
        assert!(w.apis.lock().unwrap_or_else(|p| p.into_inner()).is_empty(), "every copy found by tag and deleted");
        assert!(d.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_domain_name_answer_is_adopted_by_name() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c1, c2) = (created.clone(), created.clone());
        gw.expect_get_domain_name()
            .returning(move |_| if c1.load(std::sync::atomic::Ordering::SeqCst) { Ok(domain_info()) } else { Err(nf("NotFoundException")) });
        // The domain is created, the answer lost; a re-sent create would be a conflict.
        gw.expect_create_domain_name().times(1).returning(move |_, _, _| {
            c2.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("ServiceUnavailableException", "timeout", Some(503)))
        });
        gw.expect_get_base_path_mappings().returning(|_| Ok(vec![]));
        gw.expect_create_base_path_mapping().times(1).returning(|_, _, _| Ok(()));
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(true).with_prior(prior(&c, &outputs(false), &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.regional_domain_name, outputs(true).regional_domain_name);
        assert_eq!(ctx.recorded_id(&REGIONAL_KEYS.domain).await.as_deref(), Some(DOMAIN), "the journal records it");
        assert_eq!(ctx.recorded_id(&REGIONAL_KEYS.mapping).await.as_deref(), Some("primary.api.example.com|(none)"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_foreign_custom_domain_is_not_adopted() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        gw.expect_get_domain_name().returning(|_| Ok(DomainInfo { tags: vec![("tandem:stack".into(), "prod".into())], ..domain_info() }));
        // No create/delete/mapping expectation: nothing is changed.
        let c = ApiComponent::new(&config(true), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(true).with_prior(prior(&c, &outputs(false), &[("rest-api", "abc123")]));
        let e = c.apply(&ctx).await.unwrap_err();
        assert!(matches!(e, ComponentError::Invalid { .. }) && e.to_string().contains("not this stack's"), "{e}");
    }

    // ---- the failover domain (named dns.record_name) ----

    const RECORD: &str = "api.example.com";

    fn failover_config() -> Config {
        let mut c = config(true);
        c.dns.hosted_zone_id = Some("ZONE1".into());
        c.dns.record_name = Some(RECORD.into());
        c
    }

    fn failover_info() -> DomainInfo {
        DomainInfo {
            domain_name: RECORD.into(),
            regional_domain_name: "d-fail.execute-api.us-east-1.amazonaws.com".into(),
            regional_hosted_zone_id: "Z1UJRXOUMOOFQ8".into(),
            regional_certificate_arn: CERT.into(),
            tags: naming::tags("t", RECORD),
        }
    }

    fn failover_outputs() -> ApiOutputs {
        ApiOutputs {
            failover_domain: Some(RECORD.into()),
            failover_regional_domain_name: Some(failover_info().regional_domain_name),
            failover_regional_hosted_zone_id: Some(failover_info().regional_hosted_zone_id),
            ..outputs(true)
        }
    }

    fn root_mapping() -> Vec<BasePathInfo> {
        vec![BasePathInfo { base_path: ROOT_BASE_PATH.into(), rest_api_id: "abc123".into(), stage: "live".into() }]
    }

    #[tokio::test(start_paused = true)]
    async fn creates_the_record_name_domain_and_mapping_after_the_regional_ones() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        let mut s = Sequence::new();
        gw.expect_get_domain_name().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Err(nf("NotFoundException")));
        gw.expect_create_domain_name().withf(|d, c, _| d == DOMAIN && c == CERT).times(1).in_sequence(&mut s).returning(|_, _, _| Ok(domain_info()));
        gw.expect_get_base_path_mappings().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_base_path_mapping().withf(|d, a, st| d == DOMAIN && a == "abc123" && st == "live").times(1).in_sequence(&mut s).returning(|_, _, _| Ok(()));
        gw.expect_get_domain_name().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Err(nf("NotFoundException")));
        gw.expect_create_domain_name()
            .withf(|d, c, tags| d == RECORD && c == CERT && *tags == naming::tags("t", RECORD))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(failover_info()));
        gw.expect_get_base_path_mappings().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_base_path_mapping().withf(|d, a, st| d == RECORD && a == "abc123" && st == "live").times(1).in_sequence(&mut s).returning(|_, _, _| Ok(()));
        let c = ApiComponent::new(&failover_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        assert_eq!(c.output_type().short_name(), "ApiOutputs");
        let ctx = ctx(true).with_prior(prior(&c, &outputs(false), &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, failover_outputs());
        assert_eq!(ctx.resource_id("failover-domain").await.as_deref(), Some(RECORD));
        assert_eq!(ctx.resource_id("failover-base-path-mapping").await.as_deref(), Some("api.example.com|(none)"));
        c.output_type().check(&to_outputs(&out)).expect("declared outputs");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_failover_domain_makes_no_mutating_call() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        gw.expect_get_domain_name().withf(|d| d == DOMAIN).returning(|_| Ok(domain_info()));
        gw.expect_get_domain_name().withf(|d| d == RECORD).returning(|_| Ok(failover_info()));
        gw.expect_get_base_path_mappings().returning(|_| Ok(root_mapping()));
        let c = ApiComponent::new(&failover_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(true).with_prior(prior(&c, &failover_outputs(), &[("rest-api", "abc123"), ("domain", DOMAIN), ("failover-domain", RECORD)]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, failover_outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_removes_the_failover_domain_then_the_regional_one_then_the_api() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut s = Sequence::new();
        gw.expect_get_base_path_mappings().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Ok(root_mapping()));
        gw.expect_delete_base_path_mapping().withf(|d, b| d == RECORD && b == ROOT_BASE_PATH).times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_delete_domain_name().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_base_path_mappings().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(root_mapping()));
        gw.expect_delete_base_path_mapping().withf(|d, b| d == DOMAIN && b == ROOT_BASE_PATH).times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_delete_domain_name().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_rest_api().times(1).in_sequence(&mut s).returning(|_| Ok(api_info()));
        gw.expect_delete_rest_api().withf(|a| a == "abc123").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        lambda.expect_remove_permission().times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        let c = ApiComponent::new(&failover_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &failover_outputs(),
            &[("rest-api", "abc123"), ("domain", DOMAIN), ("failover-domain", RECORD), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_of_a_gone_failover_domain_is_success() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_base_path_mappings().returning(|_| Err(nf("NotFoundException")));
        gw.expect_delete_domain_name().times(2).returning(|_| Err(nf("NotFoundException")));
        gw.expect_get_rest_api().returning(|_| Err(nf("NotFoundException")));
        lambda.expect_remove_permission().returning(|_, _| Err(nf("ResourceNotFoundException")));
        let c = ApiComponent::new(&failover_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &failover_outputs(),
            &[("rest-api", "abc123"), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
    }

    fn configured(sans: &[&str]) -> CertificateInfo {
        CertificateInfo {
            arn: CERT.into(),
            domain_name: DOMAIN.into(),
            subject_alternative_names: sans.iter().map(|x| x.to_string()).collect(),
            status: "ISSUED".into(),
            validation_records: vec![],
            pending_validation_options: 0,
            in_use_by: vec![],
        }
    }

    fn configured_config() -> Config {
        let mut c = failover_config();
        c.api.primary_certificate_arn = Some(CERT.into());
        c
    }

    #[tokio::test(start_paused = true)]
    async fn a_configured_certificate_without_the_record_name_fails_before_any_change() {
        let mut acm = MockAcmApi::new();
        acm.expect_describe_certificate().withf(|a| a == CERT).times(1).returning(|_| Ok(configured(&[DOMAIN])));
        // No API Gateway or Lambda expectation: nothing is called, nothing is created.
        let c = ApiComponent::new(
            &configured_config(),
            Placement::Primary,
            Arc::new(MockApiGatewayApi::new()),
            Arc::new(MockLambdaApi::new()),
            Arc::new(acm), ssm(),
        );
        assert!(!c.dependencies().contains(&"certificate-primary".to_string()));
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_input("functions-primary", &functions("us-east-1")).with_input("parameters", &parameters());
        let e = c.apply(&ctx).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ComponentError::Invalid { .. }), "{msg}");
        assert!(msg.contains(CERT) && msg.contains("us-east-1") && msg.contains(RECORD) && msg.contains("does not cover"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_configured_wildcard_certificate_covers_the_record_name() {
        let mut acm = MockAcmApi::new();
        acm.expect_describe_certificate().times(1).returning(|_| Ok(configured(&[DOMAIN, "*.example.com"])));
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        gw.expect_get_domain_name().withf(|d| d == DOMAIN).returning(|_| Ok(domain_info()));
        gw.expect_get_domain_name().withf(|d| d == RECORD).returning(|_| Ok(failover_info()));
        gw.expect_get_base_path_mappings().returning(|_| Ok(root_mapping()));
        let c = ApiComponent::new(&configured_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(acm), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1")
            .with_input("functions-primary", &functions("us-east-1")).with_input("parameters", &parameters())
            .with_prior(prior(&c, &failover_outputs(), &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.failover_regional_domain_name, failover_outputs().failover_regional_domain_name);
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_record_name_removes_the_old_failover_domain() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_api(&mut gw, &mut lambda);
        let mut s = Sequence::new();
        gw.expect_get_domain_name().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(domain_info()));
        gw.expect_get_base_path_mappings().withf(|d| d == DOMAIN).times(1).in_sequence(&mut s).returning(|_| Ok(root_mapping()));
        gw.expect_get_base_path_mappings().withf(|d| d == "old.example.com").times(1).in_sequence(&mut s).returning(|_| Ok(root_mapping()));
        gw.expect_delete_base_path_mapping().withf(|d, _| d == "old.example.com").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_delete_domain_name().withf(|d| d == "old.example.com").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_domain_name().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Ok(failover_info()));
        gw.expect_get_base_path_mappings().withf(|d| d == RECORD).times(1).in_sequence(&mut s).returning(|_| Ok(root_mapping()));
        let c = ApiComponent::new(&failover_config(), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let old = ApiOutputs { failover_domain: Some("old.example.com".into()), ..failover_outputs() };
        let ctx = ctx(true).with_prior(prior(&c, &old, &[("rest-api", "abc123")]));
        let out: ApiOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, failover_outputs());
    }

    // ---- the API key, the usage plan, the key-required methods (issue 14) ----

    fn throttle_prior(c: &ApiComponent) -> tandem_core::state::ComponentState {
        prior(c, &outputs(false), &[("rest-api", "abc123"), ("api-key", "k1"), ("usage-plan", "up1"), ("usage-plan-key", "up1|k1")])
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_removes_plan_key_then_plan_then_api_key_before_the_api() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut s = Sequence::new();
        gw.expect_get_usage_plan_keys().withf(|p| p == "up1").times(1).in_sequence(&mut s).returning(|_| Ok(vec!["k1".into()]));
        gw.expect_delete_usage_plan_key().withf(|p, k| p == "up1" && k == "k1").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_get_usage_plan().withf(|p| p == "up1").times(2).in_sequence(&mut s).returning(|_| Ok(plan_info()));
        gw.expect_update_usage_plan()
            .withf(|p, ops| p == "up1" && *ops == vec![Patch { op: "remove", path: "/apiStages".into(), value: "abc123:live".into() }])
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok(UsagePlanInfo { stages: vec![], ..plan_info() }));
        gw.expect_delete_usage_plan().withf(|p| p == "up1").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_api_key().withf(|k, v| k == "k1" && !*v).times(1).in_sequence(&mut s).returning(|_, _| Ok(key_info(false)));
        gw.expect_delete_api_key().withf(|k| k == "k1").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_get_rest_api().times(1).in_sequence(&mut s).returning(|_| Ok(api_info()));
        gw.expect_delete_rest_api().withf(|a| a == "abc123").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        lambda.expect_remove_permission().times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(prior(
            &c,
            &outputs(false),
            &[("rest-api", "abc123"), ("api-key", "k1"), ("usage-plan", "up1"), ("usage-plan-key", "up1|k1"), ("permission", "api-primary-t#apigateway-abc123")],
        ));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_of_gone_throttling_makes_no_delete_call() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        // Everything is gone already: reads only (NotFound), no delete of plan, key or plan key.
        gw.expect_get_usage_plan_keys().returning(|_| Err(nf("NotFoundException")));
        gw.expect_get_usage_plan().returning(|_| Err(nf("NotFoundException")));
        gw.expect_get_api_key().returning(|_, _| Err(nf("NotFoundException")));
        gw.expect_get_rest_api().returning(|_| Err(nf("NotFoundException")));
        lambda.expect_remove_permission().returning(|_, _| Err(nf("ResourceNotFoundException")));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(throttle_prior(&c));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_usage_plan_delete_stops_before_the_api_and_names_plan_and_region() {
        let mut gw = MockApiGatewayApi::new();
        let lambda = MockLambdaApi::new();
        gw.expect_get_usage_plan_keys().returning(|_| Ok(vec![]));
        gw.expect_get_usage_plan().returning(|_| Ok(UsagePlanInfo { stages: vec![], ..plan_info() }));
        gw.expect_delete_usage_plan().returning(|_| Err(AwsError::other("AccessDeniedException", "no")));
        // No API key, API or permission delete expectation: the destroy stops here.
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = Ctx::standalone("api-primary", "us-east-1").with_prior(throttle_prior(&c));
        let e = c.destroy(&ctx).await.unwrap_err().to_string();
        assert!(e.contains("usage-plan-primary-t") && e.contains("us-east-1") && e.contains("AccessDeniedException"), "{e}");
        assert_eq!(ctx.recorded_id(&KEY_API_KEY).await.as_deref(), Some("k1"), "the key is still journaled");
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_key_parameter_fails_before_any_change() {
        let mut ssm = MockSsmApi::new();
        ssm.expect_get_parameter().times(1).returning(|_| Ok(None));
        // No API Gateway expectation: nothing is read or created.
        let c = ApiComponent::new(
            &config(false),
            Placement::Primary,
            Arc::new(MockApiGatewayApi::new()),
            Arc::new(MockLambdaApi::new()),
            Arc::new(MockAcmApi::new()),
            Arc::new(ssm),
        );
        let e = c.apply(&ctx(false)).await.unwrap_err().to_string();
        assert!(e.contains("/tandem/t/api-key") && e.contains("us-east-1") && e.contains("parameters"), "{e}");
        // A plain String is refused too (the key must stay a SecureString).
        let mut ssm = MockSsmApi::new();
        ssm.expect_get_parameter().returning(|n| Ok(Some(Parameter::new(n, ParamKind::String, KEY_VALUE))));
        let c = ApiComponent::new(
            &config(false),
            Placement::Primary,
            Arc::new(MockApiGatewayApi::new()),
            Arc::new(MockLambdaApi::new()),
            Arc::new(MockAcmApi::new()),
            Arc::new(ssm),
        );
        let e = c.apply(&ctx(false)).await.unwrap_err().to_string();
        assert!(e.contains("SecureString") && !e.contains(KEY_VALUE), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rotated_key_is_detached_deleted_and_created_anew() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda.expect_get_policy().returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
        gw.expect_get_usage_plan().returning(|_| Ok(plan_info()));
        let mut s = Sequence::new();
        // The recorded key holds the old value.
        gw.expect_get_api_key()
            .withf(|k, v| k == "k1" && *v)
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok(ApiKeyInfo { value: Some("old-value-0123456789abcdef".into()), ..key_info(false) }));
        gw.expect_get_usage_plan_keys().withf(|p| p == "up1").times(1).in_sequence(&mut s).returning(|_| Ok(vec!["k1".into()]));
        gw.expect_delete_usage_plan_key().withf(|p, k| p == "up1" && k == "k1").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_delete_api_key().withf(|k| k == "k1").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        gw.expect_list_api_keys().times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_api_key().withf(|_, v, _| v == KEY_VALUE).times(1).in_sequence(&mut s).returning(|_, _, _| {
            Ok(ApiKeyInfo { id: "k2".into(), ..key_info(false) })
        });
        gw.expect_get_usage_plan_keys().withf(|p| p == "up1").times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        gw.expect_create_usage_plan_key().withf(|p, k| p == "up1" && k == "k2").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(false).with_prior(throttle_prior(&c));
        c.apply(&ctx).await.expect("apply");
        assert_eq!(ctx.recorded_id(&KEY_API_KEY).await.as_deref(), Some("k2"));
        assert_eq!(ctx.recorded_id(&KEY_USAGE_PLAN_KEY).await.as_deref(), Some("up1|k2"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_api_key_answer_is_found_by_tag_not_created_again() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda.expect_get_policy().returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c1, c2) = (created.clone(), created.clone());
        gw.expect_list_api_keys()
            .returning(move |_| Ok(if c1.load(std::sync::atomic::Ordering::SeqCst) { vec![key_info(false)] } else { vec![] }));
        gw.expect_get_api_key().returning(|_, v| Ok(key_info(v)));
        // Created, the answer lost: a second CreateApiKey would be a conflict (values are unique).
        gw.expect_create_api_key().times(1).returning(move |_, _, _| {
            c2.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("ServiceUnavailableException", "timeout", Some(503)))
        });
        gw.expect_list_usage_plans().returning(|| Ok(vec![plan_info()]));
        gw.expect_get_usage_plan_keys().returning(|_| Ok(vec!["k1".into()]));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(false).with_prior(prior(&c, &outputs(false), &[("rest-api", "abc123")]));
        c.apply(&ctx).await.expect("apply");
        assert_eq!(ctx.recorded_id(&KEY_API_KEY).await.as_deref(), Some("k1"));
    }

    #[tokio::test(start_paused = true)]
    async fn public_reads_puts_get_again_without_the_key_and_changed_throttle_is_patched() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_resources().returning(|_| Ok(resources()));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda.expect_get_policy().returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
        gw.expect_get_api_key().returning(|_, v| Ok(key_info(v)));
        gw.expect_get_usage_plan().returning(|_| Ok(plan_info()));
        gw.expect_get_usage_plan_keys().returning(|_| Ok(vec!["k1".into()]));
        // GET /items/{id} was created with the key: deleted, put again without it.
        let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g1, g2) = (gone.clone(), gone.clone());
        gw.expect_get_method().returning(move |_, r, m| {
            if r == "r-item" && m == "GET" && g1.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(nf("NotFoundException"));
            }
            Ok(method_with(m, r != "r-health"))
        });
        let mut s = Sequence::new();
        gw.expect_delete_method().withf(|_, r, m| r == "r-item" && m == "GET").times(1).in_sequence(&mut s).returning(move |_, _, _| {
            g2.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        gw.expect_put_method().withf(|_, r, m, k| r == "r-item" && m == "GET" && !*k).times(1).in_sequence(&mut s).returning(|_, _, _, _| Ok(()));
        gw.expect_put_integration().withf(|_, r, m, u| r == "r-item" && m == "GET" && u == uri()).times(1).in_sequence(&mut s).returning(|_, _, _, _| Ok(()));
        gw.expect_create_deployment().times(1).in_sequence(&mut s).returning(|_, _, _| Ok("dep2".into()));
        gw.expect_update_usage_plan()
            .withf(|p, ops| {
                p == "up1"
                    && *ops
                        == vec![
                            Patch { op: "replace", path: "/throttle/rateLimit".into(), value: "5".into() },
                            Patch { op: "replace", path: "/throttle/burstLimit".into(), value: "10".into() },
                        ]
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok(UsagePlanInfo { rate_limit: Some(5.0), burst_limit: Some(10), ..plan_info() }));
        let mut cfg = config(false);
        cfg.api.public_reads = true;
        cfg.api.throttle_rate_limit = 5.0;
        cfg.api.throttle_burst_limit = 10;
        let c = ApiComponent::new(&cfg, Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        assert!(!c.key_required("/items/{id}", "GET") && c.key_required("/items/{id}", "PUT") && !c.key_required("/health", "GET"));
        let ctx = ctx(false).with_prior(throttle_prior(&c));
        c.apply(&ctx).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn the_open_proxy_route_of_earlier_versions_is_deleted() {
        let mut gw = MockApiGatewayApi::new();
        let mut lambda = MockLambdaApi::new();
        existing_throttling(&mut gw);
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_resources().returning(|_| {
            let mut r = resources();
            r.push(res("r-proxy", "/{proxy+}"));
            Ok(r)
        });
        gw.expect_get_method().returning(|_, r, m| Ok(method_with(m, r != "r-health")));
        gw.expect_get_stage().returning(|_, _| Ok(Some("dep1".into())));
        lambda.expect_get_policy().returning(|_| Ok(Some(r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc123"}]}"#.into())));
        let mut s = Sequence::new();
        gw.expect_delete_resource().withf(|a, r| a == "abc123" && r == "r-proxy").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        gw.expect_create_deployment().times(1).in_sequence(&mut s).returning(|_, _, _| Ok("dep2".into()));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(lambda), Arc::new(MockAcmApi::new()), ssm());
        let ctx = ctx(false).with_prior(prior(
            &c,
            &outputs(false),
            &[("rest-api", "abc123"), ("resource:/{proxy+}", "r-proxy"), ("method:ANY /{proxy+}", "r-proxy:ANY"), ("integration:ANY /{proxy+}", "r-proxy:ANY")],
        ));
        c.apply(&ctx).await.expect("apply");
        for k in ["resource:/{proxy+}", "method:ANY /{proxy+}", "integration:ANY /{proxy+}"] {
            assert!(ctx.resource_id(k).await.is_none(), "{k} forgotten");
        }
    }

    #[test]
    fn usage_plan_patches_add_and_remove_stages() {
        let want = UsagePlanSpec {
            name: "p".into(),
            description: String::new(),
            stages: vec![("new".into(), "live".into())],
            rate_limit: 50.0,
            burst_limit: 100,
            tags: vec![],
        };
        let plan = UsagePlanInfo { stages: vec![("old".into(), "live".into())], ..plan_info() };
        assert_eq!(
            usage_plan_patches(&plan, &want),
            vec![
                Patch { op: "add", path: "/apiStages".into(), value: "new:live".into() },
                Patch { op: "remove", path: "/apiStages".into(), value: "old:live".into() },
            ]
        );
        let same = UsagePlanInfo { stages: want.stages.clone(), ..plan_info() };
        assert!(usage_plan_patches(&same, &want).is_empty());
    }

    #[test]
    fn api_key_debug_redacts_the_value() {
        let k = key_info(true);
        assert!(!format!("{k:?}").contains(KEY_VALUE));
        assert!(!serde_json::to_string(&k).unwrap().contains(KEY_VALUE));
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_a_rotated_key_without_showing_it() {
        let mut gw = MockApiGatewayApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_stage().returning(|_, _| Ok(Some("d".into())));
        gw.expect_get_usage_plan().returning(|_| Ok(plan_info()));
        gw.expect_get_api_key()
            .withf(|k, v| k == "k1" && *v)
            .returning(|_, _| Ok(ApiKeyInfo { value: Some("old-value-0123456789abcdef".into()), ..key_info(false) }));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(MockLambdaApi::new()), Arc::new(MockAcmApi::new()), ssm());
        let d = c.read(&Ctx::standalone("api-primary", "us-east-1").with_prior(throttle_prior(&c))).await.expect("read");
        match d {
            Drift::Drifted { details } => {
                assert_eq!(details.len(), 1, "{details:?}");
                assert!(details[0].contains("/tandem/t/api-key") && details[0].contains("rotated"), "{details:?}");
                assert!(!details[0].contains(KEY_VALUE) && !details[0].contains("old-value"), "{details:?}");
            }
            other => panic!("{other:?}"),
        }
        // The same value: in sync.
        let mut gw = MockApiGatewayApi::new();
        gw.expect_get_rest_api().returning(|_| Ok(api_info()));
        gw.expect_get_stage().returning(|_, _| Ok(Some("d".into())));
        gw.expect_get_usage_plan().returning(|_| Ok(plan_info()));
        gw.expect_get_api_key().returning(|_, v| Ok(key_info(v)));
        let c = ApiComponent::new(&config(false), Placement::Primary, Arc::new(gw), Arc::new(MockLambdaApi::new()), Arc::new(MockAcmApi::new()), ssm());
        let d = c.read(&Ctx::standalone("api-primary", "us-east-1").with_prior(throttle_prior(&c))).await.expect("read");
        assert_eq!(d, Drift::InSync);
    }
}
