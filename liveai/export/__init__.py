"""Writers shared by the demo render and rehearsal takes: MIDI files and piano rolls."""
