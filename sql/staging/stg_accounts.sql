-- stg_accounts
-- Grain: one row per Salesforce Account row (accounts.csv): account_id is the Account Id.
-- revenue_band / employee_band use the same ranges as stg_leads ('unknown' when NULL).
WITH source AS (
    SELECT * FROM accounts
),

renamed AS (
    SELECT
        trim("Id")                          AS account_id,
        trim("Name")                        AS account_name,
        NULLIF(trim("Industry"), '')        AS industry,
        "AnnualRevenue"                     AS annual_revenue,
        "NumberOfEmployees"                 AS number_of_employees,
        NULLIF(trim("BillingCountry"), '')  AS billing_country,
        "CreatedDate"                       AS created_at,
        CAST("CreatedDate" AS DATE)         AS created_date
    FROM source
)

SELECT
    renamed.*,
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
