"""An example subscriber of Leadflow's lead stages: keeps a nurture list. See README.md."""
