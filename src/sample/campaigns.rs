//! The campaign calendar: for each campaign type, back-to-back campaigns of a fixed length on
//! one or more parallel tracks, covering the whole history. Finding the campaign that is
//! running on a given day is arithmetic, so each lead's touches cost O(1). Member counts are
//! kept per campaign so that `ActualCost` can follow the number of members.

use super::calendar::{self, Day};
use super::catalog::{CampaignType, CAMPAIGN_TYPES};
use super::dist::Rand;
use super::ids::{prefix, IdSeq, SfId};
use super::writer::{Out, Table};
use super::SampleError;

pub struct Campaign {
    pub id: SfId,
    name: String,
    type_index: usize,
    start: Day,
    end: Day,
    /// Cost noise, fixed when the campaign is planned.
    cost_factor: f64,
    pub members: u64,
}

/// Campaigns of one type on one track: `first_start + k * days` starts campaign `k`.
struct Track {
    first_start: Day,
    days: i64,
    positions: Vec<usize>,
}

pub struct CampaignPlan {
    campaigns: Vec<Campaign>,
    /// Tracks of each campaign type, indexed like `CAMPAIGN_TYPES`.
    tracks: Vec<Vec<Track>>,
}

impl CampaignPlan {
    /// Plans campaigns from before `start` through `end` and assigns Ids in start-date order.
    pub fn new(rng: &mut Rand, start: Day, end: Day) -> CampaignPlan {
        struct Planned {
            type_index: usize,
            track: usize,
            k: usize,
            start: Day,
        }
        let mut planned = Vec::new();
        let mut tracks: Vec<Vec<Track>> = Vec::with_capacity(CAMPAIGN_TYPES.len());
        for (type_index, info) in CAMPAIGN_TYPES.iter().enumerate() {
            let mut type_tracks = Vec::with_capacity(info.tracks);
            for track in 0..info.tracks {
                let offset = rng.int(0, info.days - 1);
                let first_start = start - offset;
                let count = ((end - first_start) / info.days + 1).max(0) as usize;
                for k in 0..count {
                    planned.push(Planned {
                        type_index,
                        track,
                        k,
                        start: first_start + k as i64 * info.days,
                    });
                }
                type_tracks.push(Track {
                    first_start,
                    days: info.days,
                    positions: vec![0; count],
                });
            }
            tracks.push(type_tracks);
        }
        planned.sort_by_key(|p| (p.start, p.type_index, p.track, p.k));

        let mut ids = IdSeq::new(prefix::CAMPAIGN);
        let mut campaigns = Vec::with_capacity(planned.len());
        for (position, p) in planned.iter().enumerate() {
            let info = &CAMPAIGN_TYPES[p.type_index];
            if let Some(slot) = tracks[p.type_index][p.track].positions.get_mut(p.k) {
                *slot = position;
            }
            let theme = info.themes[(p.k * info.tracks + p.track) % info.themes.len().max(1)];
            let (y, m, _) = calendar::civil_from_days(p.start);
            let name = format!("{y:04}-{m:02} {}: {theme}", info.name);
            campaigns.push(Campaign {
                id: ids.next_id(),
                name,
                type_index: p.type_index,
                start: p.start,
                end: p.start + info.days - 1,
                cost_factor: rng.uniform(0.8, 1.25),
                members: 0,
            });
        }
        CampaignPlan { campaigns, tracks }
    }

    /// A campaign of `kind` running on `day` (one of its tracks at random), if any.
    pub fn running(&self, rng: &mut Rand, kind: CampaignType, day: Day) -> Option<usize> {
        let tracks = self.tracks.get(kind.index())?;
        let track = tracks.get(rng.below(tracks.len() as u64) as usize)?;
        let k = (day - track.first_start).div_euclid(track.days);
        if k < 0 {
            return None;
        }
        track.positions.get(k as usize).copied()
    }

    pub fn get_mut(&mut self, position: usize) -> Option<&mut Campaign> {
        self.campaigns.get_mut(position)
    }

    /// Writes campaigns.csv. A campaign still running at `end` has no EndDate yet and its cost
    /// so far; the cost follows the number of members.
    pub fn write(&self, out: &mut Out, end: Day) -> Result<(), SampleError> {
        for c in &self.campaigns {
            let info = &CAMPAIGN_TYPES[c.type_index];
            let running = c.end > end;
            let elapsed = if running {
                ((end - c.start + 1) as f64 / (c.end - c.start + 1) as f64).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let dollars = (info.fixed_cost * elapsed + info.cost_per_member * c.members as f64)
                * c.cost_factor;
            let cents = (dollars * 100.0).round() as i64;
            out.emit(Table::Campaigns, |r| {
                r.id(&c.id)
                    .str(&c.name)
                    .str(info.name)
                    .date(c.start)
                    .opt_date((!running).then_some(c.end))
                    .money(cents);
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_of_the_history_has_a_running_campaign_of_each_type() {
        let mut rng = Rand::new(3);
        let start = calendar::days_from_civil(2023, 11, 16);
        let end = calendar::days_from_civil(2026, 11, 15);
        let plan = CampaignPlan::new(&mut rng, start, end);
        assert!(plan.campaigns.len() > 50 && plan.campaigns.len() < 400);
        for w in plan.campaigns.windows(2) {
            assert!(w[0].start <= w[1].start);
        }
        for info in CAMPAIGN_TYPES {
            for day in (start..=end).step_by(5) {
                let pos = plan.running(&mut rng, info.kind, day);
                let c = pos.and_then(|p| plan.campaigns.get(p));
                assert!(c.is_some_and(|c| c.start <= day && day <= c.end && c.start <= end));
            }
        }
        assert!(plan
            .running(&mut rng, CampaignType::Webinar, start - 400)
            .is_none());
    }
}
