//! Reference data: the values the generator draws from and, next to each, its effect on the
//! latent lead quality (a logit contribution, see `lead.rs`). Keeping value and effect side by
//! side makes the signal that a lead-scoring model should recover easy to read.

/// A lead's acquisition channel (`LeadSource`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Channel {
    Web,
    PaidSearch,
    Outbound,
    Referral,
    Partner,
    Event,
}

pub struct ChannelInfo {
    pub channel: Channel,
    pub name: &'static str,
    /// Share of leads at the start and at the end of the history (linear in between).
    pub share_start: f64,
    pub share_end: f64,
    pub effect: f64,
    /// Probability that the lead came in through a campaign of `first_touch` type.
    pub first_touch_rate: f64,
    pub first_touch: &'static [CampaignType],
    /// Probability that that first touch is a response (form fill, reply, visit).
    pub first_response_rate: f64,
}

pub const CHANNELS: &[ChannelInfo] = &[
    ChannelInfo {
        channel: Channel::Web,
        name: "Web",
        share_start: 0.34,
        share_end: 0.27,
        effect: 0.0,
        first_touch_rate: 0.70,
        first_touch: &[CampaignType::Content, CampaignType::Webinar],
        first_response_rate: 0.93,
    },
    ChannelInfo {
        channel: Channel::PaidSearch,
        name: "Paid Search",
        share_start: 0.18,
        share_end: 0.30,
        effect: -0.45,
        first_touch_rate: 0.95,
        first_touch: &[CampaignType::PaidSearch],
        first_response_rate: 0.95,
    },
    ChannelInfo {
        channel: Channel::Outbound,
        name: "Outbound",
        share_start: 0.18,
        share_end: 0.14,
        effect: -0.1,
        first_touch_rate: 0.90,
        first_touch: &[CampaignType::Outbound],
        first_response_rate: 0.40,
    },
    ChannelInfo {
        channel: Channel::Referral,
        name: "Referral",
        share_start: 0.09,
        share_end: 0.07,
        effect: 0.9,
        first_touch_rate: 0.80,
        first_touch: &[CampaignType::Referral],
        first_response_rate: 0.90,
    },
    ChannelInfo {
        channel: Channel::Partner,
        name: "Partner",
        share_start: 0.07,
        share_end: 0.09,
        effect: 0.55,
        first_touch_rate: 0.85,
        first_touch: &[CampaignType::Partner],
        first_response_rate: 0.85,
    },
    ChannelInfo {
        channel: Channel::Event,
        name: "Event",
        share_start: 0.14,
        share_end: 0.13,
        effect: 0.2,
        first_touch_rate: 0.97,
        first_touch: &[CampaignType::Event],
        first_response_rate: 0.92,
    },
];

impl Channel {
    pub fn info(self) -> &'static ChannelInfo {
        &CHANNELS[self.index()]
    }

    pub fn index(self) -> usize {
        match self {
            Channel::Web => 0,
            Channel::PaidSearch => 1,
            Channel::Outbound => 2,
            Channel::Referral => 3,
            Channel::Partner => 4,
            Channel::Event => 5,
        }
    }
}

/// `Campaign.Type`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CampaignType {
    Webinar,
    PaidSearch,
    Content,
    Outbound,
    Event,
    Referral,
    Partner,
}

pub struct CampaignTypeInfo {
    pub kind: CampaignType,
    pub name: &'static str,
    /// Length of one campaign; campaigns of a type follow each other on `tracks` parallel
    /// tracks for the whole history.
    pub days: i64,
    pub tracks: usize,
    /// Cost per member in dollars (ActualCost = members x this x noise + a fixed part).
    pub cost_per_member: f64,
    pub fixed_cost: f64,
    pub themes: &'static [&'static str],
}

pub const CAMPAIGN_TYPES: &[CampaignTypeInfo] = &[
    CampaignTypeInfo {
        kind: CampaignType::Webinar,
        name: "Webinar",
        days: 28,
        tracks: 1,
        cost_per_member: 45.0,
        fixed_cost: 1_500.0,
        themes: &[
            "Data Pipelines at Scale",
            "Airflow Best Practices",
            "ETL, ELT and Reverse ETL",
            "Orchestrating the Modern Data Stack",
            "From Cron to DAGs",
            "Data Quality in Production",
        ],
    },
    CampaignTypeInfo {
        kind: CampaignType::PaidSearch,
        name: "Paid Search",
        days: 91,
        tracks: 2,
        cost_per_member: 140.0,
        fixed_cost: 0.0,
        themes: &[
            "Brand Keywords",
            "Competitor Keywords",
            "Data Pipeline Keywords",
            "ETL Tool Keywords",
        ],
    },
    CampaignTypeInfo {
        kind: CampaignType::Content,
        name: "Content",
        days: 61,
        tracks: 2,
        cost_per_member: 35.0,
        fixed_cost: 2_000.0,
        themes: &[
            "The Data Engineering Handbook",
            "State of Data Pipelines Report",
            "ETL vs. ELT: A Buyer's Guide",
            "The \"No More Cron\" Checklist",
            "Data Platform Maturity Model",
        ],
    },
    CampaignTypeInfo {
        kind: CampaignType::Outbound,
        name: "Outbound",
        days: 61,
        tracks: 1,
        cost_per_member: 60.0,
        fixed_cost: 0.0,
        themes: &[
            "Mid-Market Data Leaders",
            "Enterprise Data Platform",
            "Fintech Sequence",
            "Healthcare Data Teams",
        ],
    },
    CampaignTypeInfo {
        kind: CampaignType::Event,
        name: "Event",
        days: 14,
        tracks: 1,
        cost_per_member: 220.0,
        fixed_cost: 8_000.0,
        themes: &[
            "Data Council",
            "Airflow Summit",
            "Big Data London",
            "re:Invent Booth",
            "Customer Roadshow, New York",
            "Data Engineering Meetup",
        ],
    },
    CampaignTypeInfo {
        kind: CampaignType::Referral,
        name: "Referral",
        days: 182,
        tracks: 1,
        cost_per_member: 150.0,
        fixed_cost: 0.0,
        themes: &["Customer Referral Program"],
    },
    CampaignTypeInfo {
        kind: CampaignType::Partner,
        name: "Partner",
        days: 182,
        tracks: 1,
        cost_per_member: 120.0,
        fixed_cost: 5_000.0,
        themes: &[
            "Cloud Marketplace Co-Sell",
            "SI Partner Program",
            "Technology Partner Webinars",
        ],
    },
];

impl CampaignType {
    /// Position in `CAMPAIGN_TYPES`.
    pub fn index(self) -> usize {
        CAMPAIGN_TYPES
            .iter()
            .position(|t| t.kind == self)
            .unwrap_or(0)
    }
}

/// Campaign types a lead touches after its first touch (nurture), with weights.
pub const NURTURE_TOUCHES: &[(CampaignType, f64)] = &[
    (CampaignType::Webinar, 0.40),
    (CampaignType::Content, 0.35),
    (CampaignType::Event, 0.15),
    (CampaignType::PaidSearch, 0.10),
];

pub struct Industry {
    pub name: &'static str,
    pub weight: f64,
    pub effect: f64,
    /// Median annual revenue per employee, in dollars.
    pub revenue_per_employee: f64,
    pub name_words: &'static [&'static str],
}

pub const INDUSTRIES: &[Industry] = &[
    Industry {
        name: "Software",
        weight: 0.18,
        effect: 0.6,
        revenue_per_employee: 260_000.0,
        name_words: &["Labs", "Software", "Systems", "Cloud", "AI", "Technologies"],
    },
    Industry {
        name: "Financial Services",
        weight: 0.12,
        effect: 0.5,
        revenue_per_employee: 420_000.0,
        name_words: &["Capital", "Financial", "Bank", "Insurance", "Payments"],
    },
    Industry {
        name: "Healthcare",
        weight: 0.09,
        effect: 0.2,
        revenue_per_employee: 180_000.0,
        name_words: &["Health", "Medical", "Clinics", "Pharma", "Care"],
    },
    Industry {
        name: "Retail",
        weight: 0.09,
        effect: 0.0,
        revenue_per_employee: 200_000.0,
        name_words: &["Stores", "Outfitters", "Market", "Goods", "Brands"],
    },
    Industry {
        name: "Media",
        weight: 0.07,
        effect: 0.1,
        revenue_per_employee: 240_000.0,
        name_words: &["Media", "Studios", "Publishing", "Digital"],
    },
    Industry {
        name: "Manufacturing",
        weight: 0.08,
        effect: -0.2,
        revenue_per_employee: 300_000.0,
        name_words: &["Industries", "Manufacturing", "Components", "Works"],
    },
    Industry {
        name: "Telecommunications",
        weight: 0.05,
        effect: 0.2,
        revenue_per_employee: 450_000.0,
        name_words: &["Telecom", "Networks", "Communications"],
    },
    Industry {
        name: "Education",
        weight: 0.07,
        effect: -0.6,
        revenue_per_employee: 110_000.0,
        name_words: &["University", "Learning", "Academy", "Schools"],
    },
    Industry {
        name: "Government",
        weight: 0.05,
        effect: -0.8,
        revenue_per_employee: 150_000.0,
        name_words: &["Agency", "County", "Authority", "Department"],
    },
    Industry {
        name: "Energy",
        weight: 0.04,
        effect: 0.0,
        revenue_per_employee: 500_000.0,
        name_words: &["Energy", "Power", "Utilities", "Renewables"],
    },
    Industry {
        name: "Logistics",
        weight: 0.05,
        effect: 0.1,
        revenue_per_employee: 250_000.0,
        name_words: &["Logistics", "Freight", "Shipping", "Transport"],
    },
    Industry {
        name: "Nonprofit",
        weight: 0.04,
        effect: -1.0,
        revenue_per_employee: 90_000.0,
        name_words: &["Foundation", "Trust", "Alliance"],
    },
    Industry {
        name: "Consulting",
        weight: 0.07,
        effect: -0.3,
        revenue_per_employee: 190_000.0,
        name_words: &["Consulting", "Partners", "Advisors", "Group"],
    },
];

/// Company size band by number of employees.
pub struct Band {
    pub min: f64,
    pub max: f64,
    pub weight: f64,
    /// Weight among leads from outbound prospecting, which targets larger companies.
    pub outbound_weight: f64,
    pub effect: f64,
    /// Multiplier on sales-cycle durations.
    pub cycle: f64,
    /// Small companies like to start on the self-service platform.
    pub self_service: f64,
}

pub const BANDS: &[Band] = &[
    Band {
        min: 2.0,
        max: 50.0,
        weight: 0.30,
        outbound_weight: 0.08,
        effect: -0.9,
        cycle: 0.7,
        self_service: 0.9,
    },
    Band {
        min: 51.0,
        max: 200.0,
        weight: 0.25,
        outbound_weight: 0.20,
        effect: 0.0,
        cycle: 0.85,
        self_service: 0.4,
    },
    Band {
        min: 201.0,
        max: 1000.0,
        weight: 0.22,
        outbound_weight: 0.32,
        effect: 0.5,
        cycle: 1.0,
        self_service: 0.0,
    },
    Band {
        min: 1001.0,
        max: 5000.0,
        weight: 0.14,
        outbound_weight: 0.25,
        effect: 0.6,
        cycle: 1.25,
        self_service: -0.4,
    },
    Band {
        min: 5001.0,
        max: 60_000.0,
        weight: 0.09,
        outbound_weight: 0.15,
        effect: 0.2,
        cycle: 1.5,
        self_service: -0.8,
    },
];

pub struct Country {
    pub name: &'static str,
    pub weight: f64,
    pub effect: f64,
    pub tld: &'static str,
    pub legal_suffix: &'static str,
}

pub const COUNTRIES: &[Country] = &[
    Country {
        name: "United States",
        weight: 0.42,
        effect: 0.3,
        tld: "com",
        legal_suffix: ", Inc.",
    },
    Country {
        name: "United Kingdom",
        weight: 0.10,
        effect: 0.2,
        tld: "co.uk",
        legal_suffix: " Ltd",
    },
    Country {
        name: "Germany",
        weight: 0.08,
        effect: 0.1,
        tld: "de",
        legal_suffix: " GmbH",
    },
    Country {
        name: "Canada",
        weight: 0.06,
        effect: 0.2,
        tld: "ca",
        legal_suffix: " Inc.",
    },
    Country {
        name: "France",
        weight: 0.05,
        effect: -0.1,
        tld: "fr",
        legal_suffix: " SAS",
    },
    Country {
        name: "Netherlands",
        weight: 0.04,
        effect: 0.2,
        tld: "nl",
        legal_suffix: " B.V.",
    },
    Country {
        name: "Australia",
        weight: 0.04,
        effect: 0.0,
        tld: "com.au",
        legal_suffix: " Pty Ltd",
    },
    Country {
        name: "India",
        weight: 0.08,
        effect: -0.8,
        tld: "in",
        legal_suffix: " Pvt. Ltd.",
    },
    Country {
        name: "Brazil",
        weight: 0.04,
        effect: -0.6,
        tld: "com.br",
        legal_suffix: " Ltda.",
    },
    Country {
        name: "Singapore",
        weight: 0.02,
        effect: 0.1,
        tld: "sg",
        legal_suffix: " Pte. Ltd.",
    },
    Country {
        name: "Spain",
        weight: 0.03,
        effect: -0.3,
        tld: "es",
        legal_suffix: " S.L.",
    },
    Country {
        name: "Japan",
        weight: 0.02,
        effect: -0.4,
        tld: "jp",
        legal_suffix: " K.K.",
    },
    Country {
        name: "Israel",
        weight: 0.02,
        effect: 0.3,
        tld: "co.il",
        legal_suffix: " Ltd.",
    },
];

/// Buyer persona, as the SQL derives it from `Title`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Persona {
    Executive,
    DataLeader,
    Engineer,
    Analyst,
    Other,
}

pub struct PersonaInfo {
    pub persona: Persona,
    pub weight: f64,
    pub effect: f64,
    pub titles: &'static [&'static str],
    /// Weights of Authority answers: none, influencer, decision_maker, economic_buyer.
    pub authority: [f64; 4],
}

pub const PERSONAS: &[PersonaInfo] = &[
    PersonaInfo {
        persona: Persona::Executive,
        weight: 0.10,
        effect: 0.5,
        titles: &[
            "CEO",
            "Chief Executive Officer",
            "CTO",
            "Chief Technology Officer",
            "CIO",
            "Chief Information Officer",
            "COO",
            "Founder",
            "Co-Founder & CEO",
            "President",
        ],
        authority: [0.05, 0.10, 0.30, 0.55],
    },
    PersonaInfo {
        persona: Persona::DataLeader,
        weight: 0.14,
        effect: 1.1,
        titles: &[
            "VP Data",
            "VP of Data & Analytics",
            "Head of Data Engineering",
            "Head of Data",
            "Director of Data Engineering",
            "Director, Data Platform",
            "Head of Data Platform",
            "Data Engineering Manager",
        ],
        authority: [0.05, 0.25, 0.55, 0.15],
    },
    PersonaInfo {
        persona: Persona::Engineer,
        weight: 0.30,
        effect: 0.35,
        titles: &[
            "Data Engineer",
            "Senior Data Engineer",
            "Sr. Data Engineer",
            "Software Engineer",
            "Analytics Engineer",
            "Platform Engineer",
            "Machine Learning Engineer",
            "DevOps Engineer",
            "Staff Data Engineer",
        ],
        authority: [0.20, 0.65, 0.13, 0.02],
    },
    PersonaInfo {
        persona: Persona::Analyst,
        weight: 0.22,
        effect: -0.35,
        titles: &[
            "Data Analyst",
            "Senior Data Analyst",
            "Business Analyst",
            "BI Analyst",
            "Business Intelligence Analyst",
            "Marketing Analyst",
            "Financial Analyst",
        ],
        authority: [0.32, 0.60, 0.07, 0.01],
    },
    PersonaInfo {
        persona: Persona::Other,
        weight: 0.24,
        effect: -1.3,
        titles: &[
            "Marketing Manager",
            "Product Manager",
            "Consultant",
            "Student",
            "Sales Representative",
            "Recruiter",
            "Office Manager",
            "Project Manager",
            "Operations Manager",
            "Intern",
        ],
        authority: [0.55, 0.35, 0.07, 0.03],
    },
];

pub const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Priya",
    "Wei",
    "Carlos",
    "Ana",
    "Lukas",
    "Sophie",
    "Hiroshi",
    "Yuki",
    "Olivia",
    "Noah",
    "Fatima",
    "Omar",
    "Chloe",
    "Liam",
    "Aisha",
    "Mateo",
    "Ingrid",
    "Raj",
    "Elena",
    "Daniel",
    "Grace",
    "Kevin",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Patel",
    "Chen",
    "Wang",
    "Kim",
    "Nguyen",
    "Mueller",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Silva",
    "Santos",
    "Tanaka",
    "Sato",
    "Cohen",
    "Levi",
    "O'Brien",
    "Murphy",
    "Kowalski",
    "Novak",
    "Singh",
];

pub const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Blue Harbor",
    "Summit",
    "Redwood",
    "Ironclad",
    "Brightline",
    "Crescent",
    "Evergreen",
    "Granite",
    "Helios",
    "Juniper",
    "Keystone",
    "Lighthouse",
    "Meridian",
    "Nimbus",
    "Orchard",
    "Pioneer",
    "Quantum",
    "Riverbend",
    "Sterling",
    "Tidewater",
    "Upland",
    "Vantage",
    "Westbrook",
    "Zenith",
    "Silver Oak",
    "Cobalt",
    "Driftwood",
    "Falcon",
    "Harborview",
    "Ember",
    "Atlas",
    "Beacon Hill",
    "Cedar",
    "Delta",
    "Echo",
    "Foxglove",
    "Golden Gate",
    "Horizon",
];

pub const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com"];

/// Product types (`Product_Type__c`) with list price per seat per year in dollars.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Product {
    Dpl,
    Etl,
}

impl Product {
    pub fn name(self) -> &'static str {
        match self {
            Product::Dpl => "DPL",
            Product::Etl => "ETL",
        }
    }

    pub fn seat_price(self) -> f64 {
        match self {
            Product::Dpl => 1_800.0,
            Product::Etl => 3_000.0,
        }
    }

    pub fn other(self) -> Product {
        match self {
            Product::Dpl => Product::Etl,
            Product::Etl => Product::Dpl,
        }
    }
}
