-- stg_leads
-- Grain: one row per row of the Salesforce Lead export (leads.csv): lead_id is the Salesforce Lead Id.
-- Renames API fields to snake_case and derives the firmographic buckets used by scoring:
--   channel       = LeadSource, trimmed, values kept as exported so they still match marketing_spend.Channel
--                   (a missing LeadSource becomes 'Unknown')
--   persona       = bucket of Title (same CASE as stg_contacts: keep the two in sync)
--   revenue_band / employee_band = AnnualRevenue / NumberOfEmployees ranges ('unknown' when NULL)
-- Two columns are extension points for lead scoring (int_lead_features), unused by a Salesforce export:
--   stated_outcome = NULL: the outcome is derived from the lead's opportunity. A project whose lead
--                    export records the outcome itself (and has no opportunities) sets it in its own
--                    stg_leads.
--   extra_features = an empty list: more `key=value` tokens for the scoring model, from columns a
--                    project's own export has beyond the contract.
-- No run_date filter here: marts decide what "as of run_date" means for each event timestamp.
WITH source AS (
    SELECT * FROM leads
),

renamed AS (
    SELECT
        trim("Id")                                  AS lead_id,
        "CreatedDate"                               AS created_at,
        CAST("CreatedDate" AS DATE)                 AS created_date,
        trim("Company")                             AS company,
        NULLIF(trim("Title"), '')                   AS title,
        lower(trim("Email"))                        AS email,
        coalesce(NULLIF(trim("LeadSource"), ''), 'Unknown') AS channel,
        NULLIF(trim("Status"), '')                  AS status,
        NULLIF(trim("Industry"), '')                AS industry,
        "AnnualRevenue"                             AS annual_revenue,
        "NumberOfEmployees"                         AS number_of_employees,
        NULLIF(trim("Country"), '')                 AS country,
        coalesce("IsConverted", FALSE)              AS is_converted,
        "ConvertedDate"                             AS converted_date,
        NULLIF(trim("ConvertedAccountId"), '')      AS converted_account_id,
        NULLIF(trim("ConvertedContactId"), '')      AS converted_contact_id,
        NULLIF(trim("ConvertedOpportunityId"), '')  AS converted_opportunity_id,
        "MQL_Date__c"                               AS mql_at,
        "SQL_Date__c"                               AS sql_at,
        CAST(NULL AS BOOLEAN)                       AS stated_outcome,
        arrow_cast(make_array(), 'List(Utf8)')      AS extra_features
    FROM source
)

SELECT
    renamed.*,
    CASE
        WHEN title IS NULL THEN 'unknown'
        -- leads a data / analytics / BI team: Head of Data, VP Analytics, Chief Data Officer, BI Manager
        WHEN regexp_like(lower(title), '\bcdo\b')
          OR (regexp_like(lower(title), '(data|analytics|\bbi\b|business intelligence)')
              AND regexp_like(lower(title), '(chief|\bvp\b|vice president|head|director|manager|\blead\b)'))
            THEN 'data_leader'
        -- company leadership: CEO, CTO, Founder, President, VP Engineering, Managing Director
        WHEN regexp_like(lower(title), '(chief|\bceo\b|\bcto\b|\bcfo\b|\bcoo\b|\bcio\b|\bcmo\b)')
          OR regexp_like(lower(title), '(founder|president|\bvp\b|\bowner\b|managing director)')
            THEN 'executive'
        -- builds the pipelines: Data Engineer, Developer, Architect
        WHEN regexp_like(lower(title), '(engineer|developer|architect|devops|programmer)')
            THEN 'engineer'
        -- works with the data: Analyst, Data Scientist
        WHEN regexp_like(lower(title), '(analyst|scientist|analytics)')
            THEN 'analyst'
        ELSE 'other'
    END AS persona,
    CASE
        WHEN annual_revenue IS NULL      THEN 'unknown'
        WHEN annual_revenue < 1000000    THEN '0-1M'
        WHEN annual_revenue < 10000000   THEN '1M-10M'
        WHEN annual_revenue < 50000000   THEN '10M-50M'
        WHEN annual_revenue < 250000000  THEN '50M-250M'
        WHEN annual_revenue < 1000000000 THEN '250M-1B'
        ELSE '1B+'
    END AS revenue_band,
    CASE
        WHEN number_of_employees IS NULL  THEN 'unknown'
        WHEN number_of_employees <= 10    THEN '1-10'
        WHEN number_of_employees <= 50    THEN '11-50'
        WHEN number_of_employees <= 200   THEN '51-200'
        WHEN number_of_employees <= 1000  THEN '201-1000'
        WHEN number_of_employees <= 5000  THEN '1001-5000'
        ELSE '5001+'
    END AS employee_band
FROM renamed
