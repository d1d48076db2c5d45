//! The API Gateway (REST, v1) client trait, its aws-sdk implementation, and the value types
//! it speaks.

use tandem_core::paging::PageTokens;
use aws_sdk_apigateway as apigw;
use serde::{Deserialize, Serialize};
use tandem_core::AwsError;

/// A REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestApiInfo {
    pub id: String,
    pub name: String,
    pub tags: Vec<(String, String)>,
}

/// A resource (path) of a REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceInfo {
    pub id: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub path_part: Option<String>,
}

/// A method with its integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodInfo {
    pub http_method: String,
    pub authorization_type: String,
    /// The method needs an API key of a usage plan of its stage (`x-api-key`).
    pub api_key_required: bool,
    /// (type, integration HTTP method, uri) of the integration, if any.
    pub integration: Option<IntegrationInfo>,
}

/// An integration of a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationInfo {
    pub integration_type: String,
    pub http_method: String,
    pub uri: String,
}

/// An API key. `value` is read only when asked for (`include_value`), compared, never stored
/// or logged: `Debug` redacts it and it is not serialized.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub tags: Vec<(String, String)>,
    #[serde(skip)]
    pub value: Option<String>,
}

impl std::fmt::Debug for ApiKeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyInfo")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("tags", &self.tags)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A usage plan: its stages (API id, stage) and throttle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsagePlanInfo {
    pub id: String,
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub stages: Vec<(String, String)>,
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<i32>,
}

/// What a usage plan should be.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlanSpec {
    pub name: String,
    pub description: String,
    pub stages: Vec<(String, String)>,
    pub rate_limit: f64,
    pub burst_limit: i32,
    pub tags: Vec<(String, String)>,
}

/// One JSON-patch operation of UpdateUsagePlan (`op` = add / remove / replace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub op: &'static str,
    pub path: String,
    pub value: String,
}

/// A custom domain name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    pub domain_name: String,
    pub regional_domain_name: String,
    pub regional_hosted_zone_id: String,
    pub regional_certificate_arn: String,
    pub tags: Vec<(String, String)>,
}

/// A base path mapping of a custom domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasePathInfo {
    /// `(none)` for the root mapping.
    pub base_path: String,
    pub rest_api_id: String,
    pub stage: String,
}

/// API Gateway calls used by the API component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait ApiGatewayApi: Send + Sync {
    /// CreateRestApi with a REGIONAL endpoint and the tags, sent once (no SDK retry).
    async fn create_rest_api(&self, name: &str, description: &str, tags: Vec<(String, String)>) -> Result<RestApiInfo, AwsError>;
    async fn get_rest_api(&self, id: &str) -> Result<RestApiInfo, AwsError>;
    /// All REST APIs of the region (every page).
    async fn list_rest_apis(&self) -> Result<Vec<RestApiInfo>, AwsError>;
    async fn delete_rest_api(&self, id: &str) -> Result<(), AwsError>;

    /// All resources of an API (every page).
    async fn get_resources(&self, api_id: &str) -> Result<Vec<ResourceInfo>, AwsError>;
    async fn create_resource(&self, api_id: &str, parent_id: &str, path_part: &str) -> Result<ResourceInfo, AwsError>;
    async fn get_method(&self, api_id: &str, resource_id: &str, http_method: &str) -> Result<MethodInfo, AwsError>;
    /// PutMethod with authorization NONE, and `apiKeyRequired` as given.
    async fn put_method(&self, api_id: &str, resource_id: &str, http_method: &str, api_key_required: bool) -> Result<(), AwsError>;
    /// DeleteMethod (its integration goes with it).
    async fn delete_method(&self, api_id: &str, resource_id: &str, http_method: &str) -> Result<(), AwsError>;
    /// DeleteResource (its methods and child resources go with it).
    async fn delete_resource(&self, api_id: &str, resource_id: &str) -> Result<(), AwsError>;
    /// PutIntegration AWS_PROXY, integration method POST, to `uri`.
    async fn put_integration(&self, api_id: &str, resource_id: &str, http_method: &str, uri: &str) -> Result<(), AwsError>;
    /// CreateDeployment to `stage` (creating the stage); returns the deployment id.
    async fn create_deployment(&self, api_id: &str, stage: &str, description: &str) -> Result<String, AwsError>;
    /// The deployment id of a stage.
    async fn get_stage(&self, api_id: &str, stage: &str) -> Result<Option<String>, AwsError>;

    /// CreateApiKey (enabled, with this value and the tags), sent once (no SDK retry).
    async fn create_api_key(&self, name: &str, value: &str, tags: Vec<(String, String)>) -> Result<ApiKeyInfo, AwsError>;
    /// GetApiKey; the value only when `include_value`.
    async fn get_api_key(&self, id: &str, include_value: bool) -> Result<ApiKeyInfo, AwsError>;
    /// GetApiKeys whose name starts with `name` (every page, no values).
    async fn list_api_keys(&self, name: &str) -> Result<Vec<ApiKeyInfo>, AwsError>;
    async fn delete_api_key(&self, id: &str) -> Result<(), AwsError>;
    /// CreateUsagePlan, sent once (no SDK retry).
    async fn create_usage_plan(&self, spec: &UsagePlanSpec) -> Result<UsagePlanInfo, AwsError>;
    async fn get_usage_plan(&self, id: &str) -> Result<UsagePlanInfo, AwsError>;
    /// Every usage plan of the region (every page).
    async fn list_usage_plans(&self) -> Result<Vec<UsagePlanInfo>, AwsError>;
    async fn update_usage_plan(&self, id: &str, patches: Vec<Patch>) -> Result<UsagePlanInfo, AwsError>;
    async fn delete_usage_plan(&self, id: &str) -> Result<(), AwsError>;
    /// The ids of the API keys of a usage plan (every page).
    async fn get_usage_plan_keys(&self, plan_id: &str) -> Result<Vec<String>, AwsError>;
    /// CreateUsagePlanKey of type API_KEY.
    async fn create_usage_plan_key(&self, plan_id: &str, key_id: &str) -> Result<(), AwsError>;
    async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> Result<(), AwsError>;

    async fn get_domain_name(&self, domain: &str) -> Result<DomainInfo, AwsError>;
    /// CreateDomainName REGIONAL, TLS_1_2, with a regional ACM certificate.
    async fn create_domain_name(&self, domain: &str, certificate_arn: &str, tags: Vec<(String, String)>) -> Result<DomainInfo, AwsError>;
    async fn update_domain_certificate(&self, domain: &str, certificate_arn: &str) -> Result<DomainInfo, AwsError>;
    async fn delete_domain_name(&self, domain: &str) -> Result<(), AwsError>;
    async fn get_base_path_mappings(&self, domain: &str) -> Result<Vec<BasePathInfo>, AwsError>;
    /// CreateBasePathMapping at the root of the domain.
    async fn create_base_path_mapping(&self, domain: &str, api_id: &str, stage: &str) -> Result<(), AwsError>;
    async fn delete_base_path_mapping(&self, domain: &str, base_path: &str) -> Result<(), AwsError>;
}

/// The real client of one region.
pub struct ApiGatewayClient(pub apigw::Client);

fn regional() -> apigw::types::EndpointConfiguration {
    apigw::types::EndpointConfiguration::builder().types(apigw::types::EndpointType::Regional).build()
}

fn tags_of(t: Option<&std::collections::HashMap<String, String>>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    v.sort();
    v
}

fn resource_of(r: &apigw::types::Resource) -> ResourceInfo {
    ResourceInfo {
        id: r.id().unwrap_or_default().to_string(),
        parent_id: r.parent_id().map(str::to_string),
        path: r.path().unwrap_or_default().to_string(),
        path_part: r.path_part().map(str::to_string),
    }
}

macro_rules! key_of {
    ($o:expr) => {
        ApiKeyInfo {
            id: $o.id().unwrap_or_default().to_string(),
            name: $o.name().unwrap_or_default().to_string(),
            enabled: $o.enabled(),
            tags: tags_of($o.tags()),
            value: $o.value().map(str::to_string),
        }
    };
}

macro_rules! plan_of {
    ($o:expr) => {
        UsagePlanInfo {
            id: $o.id().unwrap_or_default().to_string(),
            name: $o.name().unwrap_or_default().to_string(),
            tags: tags_of($o.tags()),
            stages: $o
                .api_stages()
                .iter()
                .map(|s| (s.api_id().unwrap_or_default().to_string(), s.stage().unwrap_or_default().to_string()))
                .collect(),
            rate_limit: $o.throttle().map(|t| t.rate_limit()),
            burst_limit: $o.throttle().map(|t| t.burst_limit()),
        }
    };
}

macro_rules! domain_of {
    ($o:expr) => {
        DomainInfo {
            domain_name: $o.domain_name().unwrap_or_default().to_string(),
            regional_domain_name: $o.regional_domain_name().unwrap_or_default().to_string(),
            regional_hosted_zone_id: $o.regional_hosted_zone_id().unwrap_or_default().to_string(),
            regional_certificate_arn: $o.regional_certificate_arn().unwrap_or_default().to_string(),
            tags: tags_of($o.tags()),
        }
    };
}

#[async_trait::async_trait]
impl ApiGatewayApi for ApiGatewayClient {
    async fn create_rest_api(&self, name: &str, description: &str, tags: Vec<(String, String)>) -> Result<RestApiInfo, AwsError> {
        let mut req = self.0.create_rest_api().name(name).description(description).endpoint_configuration(regional());
        for (k, v) in tags {
            req = req.tags(k, v);
        }
        // No name uniqueness, no token: sent once (the core's protocol looks the API up by
        // tag after an ambiguous failure instead of letting the SDK re-send it).
        let o = req
            .customize()
            .config_override(apigw::config::Builder::default().retry_config(tandem_core::aws::single_attempt()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(RestApiInfo { id: o.id().unwrap_or_default().to_string(), name: o.name().unwrap_or_default().to_string(), tags: tags_of(o.tags()) })
    }

    async fn get_rest_api(&self, id: &str) -> Result<RestApiInfo, AwsError> {
        let o = self.0.get_rest_api().rest_api_id(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(RestApiInfo { id: o.id().unwrap_or_default().to_string(), name: o.name().unwrap_or_default().to_string(), tags: tags_of(o.tags()) })
    }

    async fn list_rest_apis(&self) -> Result<Vec<RestApiInfo>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetRestApis", "the region");
        loop {
            let o = self.0.get_rest_apis().limit(500).set_position(position.take()).send().await.map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().map(|a| RestApiInfo {
                id: a.id().unwrap_or_default().to_string(),
                name: a.name().unwrap_or_default().to_string(),
                tags: tags_of(a.tags()),
            }));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn delete_rest_api(&self, id: &str) -> Result<(), AwsError> {
        self.0.delete_rest_api().rest_api_id(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_resources(&self, api_id: &str) -> Result<Vec<ResourceInfo>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetResources", api_id);
        loop {
            let o = self
                .0
                .get_resources()
                .rest_api_id(api_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().map(resource_of));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn create_resource(&self, api_id: &str, parent_id: &str, path_part: &str) -> Result<ResourceInfo, AwsError> {
        let o = self
            .0
            .create_resource()
            .rest_api_id(api_id)
            .parent_id(parent_id)
            .path_part(path_part)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(ResourceInfo {
            id: o.id().unwrap_or_default().to_string(),
            parent_id: o.parent_id().map(str::to_string),
            path: o.path().unwrap_or_default().to_string(),
            path_part: o.path_part().map(str::to_string),
        })
    }

    async fn get_method(&self, api_id: &str, resource_id: &str, http_method: &str) -> Result<MethodInfo, AwsError> {
        let o = self
            .0
            .get_method()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(http_method)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(MethodInfo {
            http_method: o.http_method().unwrap_or(http_method).to_string(),
            authorization_type: o.authorization_type().unwrap_or_default().to_string(),
            api_key_required: o.api_key_required().unwrap_or(false),
            integration: o.method_integration().map(|i| IntegrationInfo {
                integration_type: i.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                http_method: i.http_method().unwrap_or_default().to_string(),
                uri: i.uri().unwrap_or_default().to_string(),
            }),
        })
    }

    async fn put_method(&self, api_id: &str, resource_id: &str, http_method: &str, api_key_required: bool) -> Result<(), AwsError> {
        self.0
            .put_method()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(http_method)
            .authorization_type("NONE")
            .api_key_required(api_key_required)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_method(&self, api_id: &str, resource_id: &str, http_method: &str) -> Result<(), AwsError> {
        self.0
            .delete_method()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(http_method)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_resource(&self, api_id: &str, resource_id: &str) -> Result<(), AwsError> {
        self.0.delete_resource().rest_api_id(api_id).resource_id(resource_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_api_key(&self, name: &str, value: &str, tags: Vec<(String, String)>) -> Result<ApiKeyInfo, AwsError> {
        let mut req = self.0.create_api_key().name(name).value(value).enabled(true).description("Tandem API key (the SSM SecureString api-key)");
        for (k, v) in tags {
            req = req.tags(k, v);
        }
        // No name uniqueness, no token: sent once, looked up by tag after an ambiguous failure.
        let o = req
            .customize()
            .config_override(apigw::config::Builder::default().retry_config(tandem_core::aws::single_attempt()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(ApiKeyInfo { value: None, ..key_of!(o) })
    }

    async fn get_api_key(&self, id: &str, include_value: bool) -> Result<ApiKeyInfo, AwsError> {
        let o = self.0.get_api_key().api_key(id).include_value(include_value).send().await.map_err(AwsError::from_sdk)?;
        let info = key_of!(o);
        Ok(ApiKeyInfo { value: info.value.filter(|_| include_value), ..info })
    }

    async fn list_api_keys(&self, name: &str) -> Result<Vec<ApiKeyInfo>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetApiKeys", name);
        loop {
            let o = self
                .0
                .get_api_keys()
                .name_query(name)
                .include_values(false)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().map(|k| ApiKeyInfo { value: None, ..key_of!(k) }));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn delete_api_key(&self, id: &str) -> Result<(), AwsError> {
        self.0.delete_api_key().api_key(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_usage_plan(&self, spec: &UsagePlanSpec) -> Result<UsagePlanInfo, AwsError> {
        let mut req = self
            .0
            .create_usage_plan()
            .name(&spec.name)
            .description(&spec.description)
            .throttle(apigw::types::ThrottleSettings::builder().rate_limit(spec.rate_limit).burst_limit(spec.burst_limit).build());
        for (api, stage) in &spec.stages {
            req = req.api_stages(apigw::types::ApiStage::builder().api_id(api).stage(stage).build());
        }
        for (k, v) in &spec.tags {
            req = req.tags(k, v);
        }
        let o = req
            .customize()
            .config_override(apigw::config::Builder::default().retry_config(tandem_core::aws::single_attempt()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(plan_of!(o))
    }

    async fn get_usage_plan(&self, id: &str) -> Result<UsagePlanInfo, AwsError> {
        let o = self.0.get_usage_plan().usage_plan_id(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(plan_of!(o))
    }

    async fn list_usage_plans(&self) -> Result<Vec<UsagePlanInfo>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetUsagePlans", "the region");
        loop {
            let o = self.0.get_usage_plans().limit(500).set_position(position.take()).send().await.map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().map(|p| plan_of!(p)));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn update_usage_plan(&self, id: &str, patches: Vec<Patch>) -> Result<UsagePlanInfo, AwsError> {
        let mut req = self.0.update_usage_plan().usage_plan_id(id);
        for p in patches {
            let op = match p.op {
                "add" => apigw::types::Op::Add,
                "remove" => apigw::types::Op::Remove,
                _ => apigw::types::Op::Replace,
            };
            req = req.patch_operations(apigw::types::PatchOperation::builder().op(op).path(p.path).value(p.value).build());
        }
        let o = req.send().await.map_err(AwsError::from_sdk)?;
        Ok(plan_of!(o))
    }

    async fn delete_usage_plan(&self, id: &str) -> Result<(), AwsError> {
        self.0.delete_usage_plan().usage_plan_id(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_usage_plan_keys(&self, plan_id: &str) -> Result<Vec<String>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetUsagePlanKeys", plan_id);
        loop {
            let o = self
                .0
                .get_usage_plan_keys()
                .usage_plan_id(plan_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().filter_map(|k| k.id().map(str::to_string)));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn create_usage_plan_key(&self, plan_id: &str, key_id: &str) -> Result<(), AwsError> {
        self.0.create_usage_plan_key().usage_plan_id(plan_id).key_id(key_id).key_type("API_KEY").send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> Result<(), AwsError> {
        self.0.delete_usage_plan_key().usage_plan_id(plan_id).key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn put_integration(&self, api_id: &str, resource_id: &str, http_method: &str, uri: &str) -> Result<(), AwsError> {
        self.0
            .put_integration()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(http_method)
            .r#type(apigw::types::IntegrationType::AwsProxy)
            .integration_http_method("POST")
            .uri(uri)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_deployment(&self, api_id: &str, stage: &str, description: &str) -> Result<String, AwsError> {
        let o = self
            .0
            .create_deployment()
            .rest_api_id(api_id)
            .stage_name(stage)
            .description(description)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(o.id().unwrap_or_default().to_string())
    }

    async fn get_stage(&self, api_id: &str, stage: &str) -> Result<Option<String>, AwsError> {
        let o = self.0.get_stage().rest_api_id(api_id).stage_name(stage).send().await.map_err(AwsError::from_sdk)?;
        Ok(o.deployment_id().map(str::to_string))
    }

    async fn get_domain_name(&self, domain: &str) -> Result<DomainInfo, AwsError> {
        let o = self.0.get_domain_name().domain_name(domain).send().await.map_err(AwsError::from_sdk)?;
        Ok(domain_of!(o))
    }

    async fn create_domain_name(&self, domain: &str, certificate_arn: &str, tags: Vec<(String, String)>) -> Result<DomainInfo, AwsError> {
        let mut req = self
            .0
            .create_domain_name()
            .domain_name(domain)
            .regional_certificate_arn(certificate_arn)
            .endpoint_configuration(regional())
            .security_policy(apigw::types::SecurityPolicy::Tls12);
        for (k, v) in tags {
            req = req.tags(k, v);
        }
        let o = req.send().await.map_err(AwsError::from_sdk)?;
        Ok(domain_of!(o))
    }

    async fn update_domain_certificate(&self, domain: &str, certificate_arn: &str) -> Result<DomainInfo, AwsError> {
        let o = self
            .0
            .update_domain_name()
            .domain_name(domain)
            .patch_operations(
                apigw::types::PatchOperation::builder()
                    .op(apigw::types::Op::Replace)
                    .path("/regionalCertificateArn")
                    .value(certificate_arn)
                    .build(),
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(domain_of!(o))
    }

    async fn delete_domain_name(&self, domain: &str) -> Result<(), AwsError> {
        self.0.delete_domain_name().domain_name(domain).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_base_path_mappings(&self, domain: &str) -> Result<Vec<BasePathInfo>, AwsError> {
        let mut all = Vec::new();
        let mut position: Option<String> = None;
        let mut pages = PageTokens::new("GetBasePathMappings", domain);
        loop {
            let o = self
                .0
                .get_base_path_mappings()
                .domain_name(domain)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(o.items().iter().map(|m| BasePathInfo {
                base_path: m.base_path().unwrap_or("(none)").to_string(),
                rest_api_id: m.rest_api_id().unwrap_or_default().to_string(),
                stage: m.stage().unwrap_or_default().to_string(),
            }));
            match pages.next(o.position().filter(|_| !o.items().is_empty()))? {
                Some(p) => position = Some(p),
                None => return Ok(all),
            }
        }
    }

    async fn create_base_path_mapping(&self, domain: &str, api_id: &str, stage: &str) -> Result<(), AwsError> {
        self.0
            .create_base_path_mapping()
            .domain_name(domain)
            .rest_api_id(api_id)
            .stage(stage)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_base_path_mapping(&self, domain: &str, base_path: &str) -> Result<(), AwsError> {
        self.0.delete_base_path_mapping().domain_name(domain).base_path(base_path).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_position_ends_the_listing_with_an_error() {
        let page = r#"{"item":[{"id":"a1","name":"api"}],"position":"p1"}"#;
        let http = Replay::repeat((200u16, &[("content-type", "application/json")][..], page), 5);
        let gw = ApiGatewayClient(apigw::Client::new(&http.sdk_config()));
        let e = gw.list_rest_apis().await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert!(e.message.contains("GetRestApis"), "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
