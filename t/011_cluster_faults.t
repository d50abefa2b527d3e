# 011_cluster_faults.t
#	Kill -9 one node of three every few seconds for 60 s while two client
#	processes write (W=2) and read (R=2); then, with the faults stopped and
#	the hints drained, every acknowledged write must be readable with R=3.
#	Prints acknowledged, found and lost (lost must be 0).

use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

use DynamoTest qw(raw_connect raw_get_many);
use DynamoCluster qw(start_cluster wait_until wait_converged pending_hints raw_put raw_get
  values_of);

my $DURATION = $ENV{DYNAMO_FAULT_SECONDS} // 60;
my @n = start_cluster(3, engine => 'wiredtiger', prefix => 'f');
my $dir = DynamoTest::scratch();
my $stop = "$dir/stop";
unlink $stop;

# One client: writes fresh keys with W=2 and reads back earlier ones with
# R=2, through a random node, reconnecting to another when its node dies.
# Acknowledged writes go to its log, one line each, as soon as they are.
sub client
{
	my ($c) = @_;
	srand($$ ^ int(time * 1000));
	open my $log, '>', "$dir/acked.$c" or POSIX::_exit(1);
	$log->autoflush(1);
	my ($s, $reqid, $i) = (undef, 0, 0);
	my %stat = (errors => 0, io => 0, reads => 0, read_found => 0, read_failed => 0);
	my @acked;
	while (!-e $stop)
	{
		if (!$s)
		{
			$s = raw_connect($n[ int rand 3 ]->port);
			if (!$s) { sleep 0.05; next }
		}
		my $key = "c$c-" . $i++;
		my ($st, $info) = raw_put($s, ++$reqid, 'chaos', $key, "value of $key", 2);
		if ($st eq 'ok')
		{
			print $log "$key\n";
			push @acked, $key;
		}
		elsif ($st eq 'error') { $stat{errors}++ }
		else { $stat{io}++; close $s; $s = undef; next }
		if (@acked && $i % 4 == 0)
		{
			my $k = $acked[ int rand @acked ];
			my ($gs, $sib) = raw_get($s, ++$reqid, 'chaos', $k, 2);
			$stat{reads}++;
			if ($gs eq 'ok') { $stat{ (grep { $_ eq "value of $k" } @{ values_of($sib) }) ? 'read_found' : 'read_failed' }++ }
			elsif ($gs eq 'error') { $stat{read_failed}++ }
			else { $stat{io}++; close $s; $s = undef }
		}
		sleep 0.004;
	}
	open my $st, '>', "$dir/stats.$c" or POSIX::_exit(1);
	print $st join(' ', map { "$_=$stat{$_}" } sort keys %stat), "\n";
	close $st;
	POSIX::_exit(0);
}

my @pids;
for my $c (1 .. 2)
{
	my $pid = fork // die "fork: $!";
	client($c) if $pid == 0;
	push @pids, $pid;
}

# the faults: every few seconds one node dies with -9 and comes back
my $start = time;
my $kills = 0;
while (time - $start < $DURATION)
{
	my $victim = $n[ int rand 3 ];
	$victim->kill9;
	$kills++;
	sleep 1.5 + rand 1.5;
	$victim->restart;
	sleep 1 + rand 1.5;
}
open my $fh, '>', $stop or die "$stop: $!";
close $fh;
waitpid($_, 0) for @pids;
diag(sprintf('faults: %d kills in %.0f s', $kills, time - $start));

ok(wait_converged(\@n, 15), 'after the faults every node is up and sees the others');
ok(defined wait_until(60, sub { (grep { pending_hints($_) > 0 } @n) == 0 }),
	'the hints drain on every node')
  or diag(join ' ', map { "$_->{id}:" . pending_hints($_) } @n);

my @acked;
for my $c (1 .. 2)
{
	open my $in, '<', "$dir/acked.$c" or next;
	chomp(my @k = <$in>);
	push @acked, @k;
	if (open my $st, '<', "$dir/stats.$c")
	{
		my $line = <$st>;
		chomp $line;
		diag("client $c: $line");
	}
}
cmp_ok(scalar @acked, '>', 500, 'the clients had writes acknowledged throughout');

my ($found, $lost) = (0, 0);
while (my @chunk = splice(@acked, 0, 2000))
{
	my $got = raw_get_many($n[0]->port, map { [ 'chaos', $_, 3 ] } @chunk);
	if (!$got)
	{
		fail('the final R=3 reads answer');
		$lost += @chunk;
		next;
	}
	for my $k (@chunk)
	{
		if (grep { $_ eq "value of $k" } @{ values_of($got->{"chaos/$k"}) }) { $found++ }
		else { $lost++; diag("lost: $k") if $lost <= 20 }
	}
}
diag("fault test: acknowledged " . ($found + $lost) . ", found $found, lost $lost");
is($lost, 0, 'every acknowledged write is readable with R=3 (lost 0)');

done_testing();
