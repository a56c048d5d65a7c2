"""Household devices and schedules: the follower library shared by the TOU and RTP families."""
