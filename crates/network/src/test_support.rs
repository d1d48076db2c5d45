//! Fixtures shared by the unit tests: a configuration, and the "healthy world" a fully
//! applied primary network of stack `dev` looks like through the EC2 trait.

use tandem_core::contracts::NetworkOutputs;
use tandem_core::state::ComponentState;
use tandem_core::{Config, Placement};

use crate::ec2_api::*;

pub const REGION: &str = "us-east-1";
pub const REGION2: &str = "us-east-2";

pub fn cfg() -> Config {
    Config::example("dev")
}

pub fn tags(name: &str) -> Tags {
    tandem_core::naming::tags("dev", name)
}

pub fn azs() -> Vec<String> {
    vec![
        "us-east-1a".into(),
        "us-east-1b".into(),
        "us-east-1c".into(),
    ]
}

pub fn vpc(state: &str) -> VpcInfo {
    VpcInfo {
        id: "vpc-1".into(),
        cidr: "10.10.0.0/16".into(),
        state: state.into(),
        tags: tags("vpc-primary-dev"),
    }
}

pub fn subnets() -> Vec<SubnetInfo> {
    let mk = |id: &str, tier: &str, az: &str, cidr: &str| SubnetInfo {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        cidr: cidr.into(),
        az: az.into(),
        map_public_ip_on_launch: false,
        tags: tags(&format!("subnet-{tier}-{az}-primary-dev")),
    };
    vec![
        mk("subnet-pa", "public", "us-east-1a", "10.10.0.0/20"),
        mk("subnet-pb", "public", "us-east-1b", "10.10.16.0/20"),
        mk("subnet-xa", "private", "us-east-1a", "10.10.32.0/20"),
        mk("subnet-xb", "private", "us-east-1b", "10.10.48.0/20"),
    ]
}

pub fn igw(attached: bool) -> InternetGatewayInfo {
    InternetGatewayInfo {
        id: "igw-1".into(),
        attached_vpcs: if attached {
            vec!["vpc-1".into()]
        } else {
            vec![]
        },
        tags: tags("igw-primary-dev"),
    }
}

pub fn assoc(id: &str, subnet: &str) -> AssociationInfo {
    AssociationInfo {
        id: id.into(),
        subnet_id: Some(subnet.into()),
        main: false,
    }
}

pub fn main_table() -> RouteTableInfo {
    RouteTableInfo {
        id: "rtb-main".into(),
        vpc_id: "vpc-1".into(),
        associations: vec![AssociationInfo {
            id: "rtbassoc-main".into(),
            subnet_id: None,
            main: true,
        }],
        routes: vec![local_route()],
        tags: vec![],
    }
}

pub fn local_route() -> RouteInfo {
    RouteInfo {
        destination: "10.10.0.0/16".into(),
        gateway_id: Some("local".into()),
        peering_connection_id: None,
        state: "active".into(),
    }
}

pub fn route_tables() -> Vec<RouteTableInfo> {
    vec![
        main_table(),
        RouteTableInfo {
            id: "rtb-pub".into(),
            vpc_id: "vpc-1".into(),
            associations: vec![assoc("a-pa", "subnet-pa"), assoc("a-pb", "subnet-pb")],
            routes: vec![
                local_route(),
                RouteInfo {
                    destination: "0.0.0.0/0".into(),
                    gateway_id: Some("igw-1".into()),
                    peering_connection_id: None,
                    state: "active".into(),
                },
            ],
            tags: tags("rtb-public-primary-dev"),
        },
        RouteTableInfo {
            id: "rtb-xa".into(),
            vpc_id: "vpc-1".into(),
            associations: vec![assoc("a-xa", "subnet-xa")],
            routes: vec![local_route()],
            tags: tags("rtb-private-us-east-1a-primary-dev"),
        },
        RouteTableInfo {
            id: "rtb-xb".into(),
            vpc_id: "vpc-1".into(),
            associations: vec![assoc("a-xb", "subnet-xb")],
            routes: vec![local_route()],
            tags: tags("rtb-private-us-east-1b-primary-dev"),
        },
    ]
}

pub fn db_rules() -> Vec<IngressRule> {
    vec![
        IngressRule::tcp(5432, "10.10.0.0/16", "x"),
        IngressRule::tcp(5432, "10.20.0.0/16", "x"),
    ]
}

pub fn lb_rules() -> Vec<IngressRule> {
    vec![IngressRule::tcp(443, "0.0.0.0/0", "x")]
}

pub fn security_groups() -> Vec<SecurityGroupInfo> {
    vec![
        SecurityGroupInfo {
            id: "sg-default".into(),
            name: "default".into(),
            vpc_id: "vpc-1".into(),
            ..Default::default()
        },
        SecurityGroupInfo {
            id: "sg-db".into(),
            name: "secgroup-db-primary-dev".into(),
            vpc_id: "vpc-1".into(),
            ingress: db_rules(),
            other_ingress: vec![],
            tags: tags("secgroup-db-primary-dev"),
        },
        SecurityGroupInfo {
            id: "sg-lb".into(),
            name: "secgroup-lb-primary-dev".into(),
            vpc_id: "vpc-1".into(),
            ingress: lb_rules(),
            other_ingress: vec![],
            tags: tags("secgroup-lb-primary-dev"),
        },
    ]
}

/// The prior state of an applied primary network.
pub fn network_prior() -> ComponentState {
    ComponentState::new("vpc", Placement::Primary, REGION)
        .with_resource("vpc", "vpc-1")
        .with_resource("igw", "igw-1")
        .with_resource("subnet-public-0", "subnet-pa")
        .with_resource("subnet-public-1", "subnet-pb")
        .with_resource("subnet-private-0", "subnet-xa")
        .with_resource("subnet-private-1", "subnet-xb")
        .with_resource("rtb-public", "rtb-pub")
        .with_resource("rtb-private-0", "rtb-xa")
        .with_resource("rtb-private-1", "rtb-xb")
        .with_resource("sg-db", "sg-db")
        .with_resource("sg-lb", "sg-lb")
}

pub fn network_outputs(role: &str) -> NetworkOutputs {
    let (vpc, cidr) = if role == "primary" {
        ("vpc-1", "10.10.0.0/16")
    } else {
        ("vpc-2", "10.20.0.0/16")
    };
    let p = if role == "primary" { "p" } else { "s" };
    NetworkOutputs {
        vpc_id: vpc.into(),
        cidr: cidr.into(),
        azs: vec!["a".into(), "b".into()],
        public_subnet_ids: vec![format!("subnet-{p}pa"), format!("subnet-{p}pb")],
        private_subnet_ids: vec![format!("subnet-{p}xa"), format!("subnet-{p}xb")],
        internet_gateway_id: format!("igw-{p}"),
        public_route_table_id: format!("rtb-{p}pub"),
        private_route_table_ids: vec![format!("rtb-{p}xa"), format!("rtb-{p}xb")],
        db_security_group_id: format!("sg-{p}db"),
        lb_security_group_id: format!("sg-{p}lb"),
    }
}

/// Filter value of `name` in a filter list.
pub fn filter<'a>(f: &'a Filters, name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Name tag of a tag list.
pub fn name_tag(t: &Tags) -> &str {
    t.iter()
        .find(|(k, _)| k == "Name")
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}
