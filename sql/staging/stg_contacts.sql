-- stg_contacts
-- Grain: one row per Salesforce Contact row (contacts.csv): contact_id is the Contact Id.
-- persona is derived from Title with the same CASE as stg_leads (keep the two in sync).
WITH source AS (
    SELECT * FROM contacts
),

renamed AS (
    SELECT
        trim("Id")                     AS contact_id,
        NULLIF(trim("AccountId"), '')  AS account_id,
        NULLIF(trim("Title"), '')      AS title,
        lower(trim("Email"))           AS email,
        "CreatedDate"                  AS created_at,
        CAST("CreatedDate" AS DATE)    AS created_date
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
    END AS persona
FROM renamed
