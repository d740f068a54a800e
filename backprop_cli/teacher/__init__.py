"""The teacher's loop: assignments with a variant per student (`assignment`), their answer
keys and batch files (`key`), rubrics and scores (`rubric`)."""
