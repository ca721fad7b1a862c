-- unit_economics_monthly
-- Grain: month x channel, plus one channel = 'ALL' row per month. Months run without gaps from the first
-- month with spend or a won New Business deal to the run_date month. A channel row exists for a month
-- when the channel has a marketing_spend row or new customers in that month.
-- Readings of METRICS.md (tests/fixtures/golden/INTERPRETATIONS.md U1-U7):
--   * new_customers: distinct accounts with a won (as of run_date) New Business opportunity closing in
--     the month (channel rows: that opportunity's LeadSource), new_acv the sum of those deals' Amount
--   * spend: ProgramSpend + Salaries + Tools + Other of the month and channel's marketing_spend rows;
--     NULL when the file has no row for that month and channel (unknown spend is not zero spend: a
--     channel spelled differently in the spend file must not show the best possible CAC), so cac,
--     payback_months, ltv_to_cac and their flags are NULL there too. A recorded 0 is 0. The ALL row
--     sums the month's rows of every channel, 'Sales' included (a 'Sales' channel row shows sales
--     salaries alone), NULL when the month has no spend row at all. Spend rows after the run_date
--     month are ignored.
--   * renewal_rate_12m is company-wide (same value on every row of a month): among contracts
--     (int_contracts) whose Contract_End__c falls in months m-11 .. m and on or before run_date (has
--     ended: a contract still running has no outcome yet), the share renewed, i.e. followed by another
--     won contract of the account starting within var renewal_grace_days (31) days after the end. A
--     contract that ended less than 31 days before run_date without a renewal yet counts as not
--     renewed (the literal text; the alternative, leaving it out until its grace period is over, is
--     INTERPRETATIONS U4)
--   * expected_lifetime_years = least(var max_lifetime_years, 1 / (1 - renewal_rate_12m)), var
--     max_lifetime_years when nothing churned (rate 1), NULL when no contract ended in the 12 months
--   * magic_number (ALL rows only): won ACV of New Business + Expansion closed in m-2 .. m over ALL
--     spend in m-5 .. m-3. Flags are NULL when their metric is NULL.
WITH new_business_wins AS (
    SELECT
        close_month AS month,
        channel,
        account_id,
        amount
    FROM int_opportunities
    WHERE is_won_as_of
      AND opportunity_type = 'New Business'
),

new_customers_by_scope AS (
    -- won opportunities are few: a distinct count per (month, channel) is cheap here
    SELECT month, channel, count(DISTINCT account_id) AS new_customers, sum(amount) AS new_acv
    FROM new_business_wins
    GROUP BY month, channel
    UNION ALL
    SELECT month, 'ALL' AS channel, count(DISTINCT account_id), sum(amount)
    FROM new_business_wins
    GROUP BY month
),

spend_by_channel AS (
    SELECT spend_month AS month, channel, sum(total_spend) AS spend
    FROM stg_marketing_spend
    WHERE spend_month <= {{ run_date }}
    GROUP BY spend_month, channel
),

spend_all AS (
    SELECT month, 'ALL' AS channel, sum(spend) AS spend
    FROM spend_by_channel
    GROUP BY month
),

spend_by_scope AS (
    SELECT * FROM spend_by_channel
    UNION ALL
    SELECT * FROM spend_all
),

first_month AS (
    SELECT min(month) AS month
    FROM (
        SELECT month FROM spend_all
        UNION ALL
        SELECT month FROM new_customers_by_scope
    ) AS active_months
),

month_spine AS (
    SELECT unnest(generate_series(
        first_month.month,
        CAST(date_trunc('month', {{ run_date }}) AS DATE),
        INTERVAL '1 month'
    )) AS month
    FROM first_month
    WHERE first_month.month IS NOT NULL
),

month_channels AS (
    SELECT month, channel FROM new_customers_by_scope WHERE channel <> 'ALL'
    UNION
    SELECT month, channel FROM spend_by_channel
    UNION
    SELECT month, 'ALL' AS channel FROM month_spine
),

contracts_ending_by_month AS (
    SELECT
        contract_end_month,
        count(*)                                    AS contracts_ended,
        sum(CASE WHEN is_renewed THEN 1 ELSE 0 END) AS contracts_renewed
    FROM int_contracts
    WHERE has_ended
    GROUP BY contract_end_month
),

renewal_by_month AS (
    SELECT
        month_spine.month,
        CAST(sum(ending.contracts_renewed) AS DOUBLE) / NULLIF(sum(ending.contracts_ended), 0)
            AS renewal_rate_12m
    FROM month_spine
    LEFT JOIN contracts_ending_by_month AS ending
        ON ending.contract_end_month > CAST(month_spine.month - INTERVAL '12 months' AS DATE)
       AND ending.contract_end_month <= month_spine.month
    GROUP BY month_spine.month
),

new_and_expansion_acv_by_month AS (
    SELECT close_month AS month, sum(amount) AS won_acv
    FROM int_opportunities
    WHERE is_won_as_of
      AND opportunity_type IN ('New Business', 'Expansion')
    GROUP BY close_month
),

won_acv_last_3_months AS (
    SELECT month_spine.month, sum(acv.won_acv) AS won_acv_3m
    FROM month_spine
    JOIN new_and_expansion_acv_by_month AS acv
        ON acv.month >= CAST(month_spine.month - INTERVAL '2 months' AS DATE)
       AND acv.month <= month_spine.month
    GROUP BY month_spine.month
),

spend_prior_quarter AS (
    SELECT month_spine.month, sum(spend_all.spend) AS spend_prior_3m
    FROM month_spine
    JOIN spend_all
        ON spend_all.month >= CAST(month_spine.month - INTERVAL '5 months' AS DATE)
       AND spend_all.month <= CAST(month_spine.month - INTERVAL '3 months' AS DATE)
    GROUP BY month_spine.month
),

magic_number_by_month AS (
    SELECT
        month_spine.month,
        coalesce(won_acv_last_3_months.won_acv_3m, 0) / NULLIF(spend_prior_quarter.spend_prior_3m, 0)
            AS magic_number
    FROM month_spine
    LEFT JOIN won_acv_last_3_months
        ON won_acv_last_3_months.month = month_spine.month
    LEFT JOIN spend_prior_quarter
        ON spend_prior_quarter.month = month_spine.month
),

monthly AS (
    SELECT
        month_channels.month,
        month_channels.channel,
        coalesce(new_customers.new_customers, 0)    AS new_customers,
        coalesce(new_customers.new_acv, 0)          AS new_acv,
        spend.spend,
        renewal_by_month.renewal_rate_12m
    FROM month_channels
    LEFT JOIN new_customers_by_scope AS new_customers
        ON new_customers.month = month_channels.month
       AND new_customers.channel = month_channels.channel
    LEFT JOIN spend_by_scope AS spend
        ON spend.month = month_channels.month
       AND spend.channel = month_channels.channel
    LEFT JOIN renewal_by_month
        ON renewal_by_month.month = month_channels.month
),

unit_economics AS (
    SELECT
        monthly.*,
        new_acv / NULLIF(new_customers, 0)          AS avg_acv,
        spend / NULLIF(new_customers, 0)            AS cac,
        {{ var('gross_margin') }}                   AS gross_margin,
        CASE
            WHEN renewal_rate_12m IS NULL THEN NULL
            WHEN renewal_rate_12m >= 1 THEN CAST({{ var('max_lifetime_years') }} AS DOUBLE)
            ELSE least(CAST({{ var('max_lifetime_years') }} AS DOUBLE), 1.0 / (1.0 - renewal_rate_12m))
        END                                         AS expected_lifetime_years
    FROM monthly
),

with_ltv AS (
    SELECT
        unit_economics.*,
        avg_acv * gross_margin * expected_lifetime_years  AS ltv
    FROM unit_economics
),

with_ratios AS (
    SELECT
        with_ltv.*,
        ltv / NULLIF(cac, 0)                                            AS ltv_to_cac,
        cac / NULLIF(avg_acv / 12.0 * gross_margin, 0)                  AS payback_months,
        CASE WHEN with_ltv.channel = 'ALL' THEN magic.magic_number END  AS magic_number
    FROM with_ltv
    LEFT JOIN magic_number_by_month AS magic
        ON magic.month = with_ltv.month
)

SELECT
    month,
    channel,
    new_customers,
    new_acv,
    avg_acv,
    spend,
    cac,
    gross_margin,
    renewal_rate_12m,
    expected_lifetime_years,
    ltv,
    ltv_to_cac,
    payback_months,
    magic_number,
    ltv_to_cac >= {{ var('ltv_to_cac_target') }}         AS ltv_to_cac_ok,
    payback_months <= {{ var('payback_months_target') }} AS payback_ok,
    magic_number >= {{ var('magic_number_target') }}     AS magic_number_ok
FROM with_ratios
ORDER BY month, channel
