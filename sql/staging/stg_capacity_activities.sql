-- stg_capacity_activities
-- Grain: one row per capacity_activities row: hours a role spends per unit of work.
-- unit is lowercased (per_mql, per_sql, per_opportunity, per_won_deal, per_customer_month):
-- product_type NULL means the activity applies to any product.
WITH source AS (
    SELECT * FROM capacity_activities
)

SELECT
    trim("Role")                        AS role,
    trim("Activity")                    AS activity,
    lower(trim("Unit"))                 AS unit,
    NULLIF(trim("ProductType"), '')     AS product_type,
    "Hours"                             AS hours
FROM source
