-- Subscribers belong to a team and receive that team's events only; a null team is an
-- all-teams subscriber, which only an unrestricted admin key may create or change.
-- Subscribers that exist already become all-teams: that is what they were receiving, so
-- nothing they get changes, and from now on only an admin can re-point or remove them (an
-- admin lists them with `team: null` and may give each a team).
-- Who changed a subscriber is the authenticated principal (`updated_by`); a name sent in
-- the body is kept beside it (`updated_on_behalf_of`).
-- depends: 0004_relay

alter table event_subscribers add column team varchar(100);
alter table event_subscribers add column updated_on_behalf_of varchar(200);
create index event_subscribers_team_idx on event_subscribers (team, name);
